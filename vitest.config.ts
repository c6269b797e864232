// `npm test` runs every project: unit and integration tests beside the code (service, sdk)
// against a real Postgres, and e2e tests that start the built service as a child process.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["service/src/test-support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: "service", include: ["service/src/**/*.test.ts"] },
      },
      {
        extends: true,
        test: { name: "sdk", include: ["sdk/src/**/*.test.ts"] },
      },
      {
        extends: true,
        test: { name: "e2e", include: ["e2e/**/*.test.ts"], testTimeout: 120_000 },
      },
    ],
  },
});
