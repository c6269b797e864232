// The dashboard is built into dist/ (index.html + hashed assets/), which the service serves
// at / on its HTTP port. `npm run dev -w @spool/dashboard` serves it with hot reload and sends
// API calls to a service on 127.0.0.1:8080 (SPOOL_DASHBOARD_API to change).
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const api = process.env.SPOOL_DASHBOARD_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline scripts or styles: the service's Content-Security-Policy allows only files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: { proxy: { "/spool.v1.": api, "/dashboard.json": api } },
});
