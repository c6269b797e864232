// Where the built dashboard is: `dist/`, written by `npm run build` (vite build). The service
// serves these files at / on its HTTP port (service/src/http/dashboard-assets.ts).
import { fileURLToPath } from "node:url";

export const dashboardDir = fileURLToPath(new URL("./dist/", import.meta.url));
