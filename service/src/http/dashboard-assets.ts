// The dashboard's files, served at / on the HTTP port: the page (index.html) and its hashed
// assets (/assets/*), as Vite built them into @spool/dashboard's dist/. Nothing comes from
// the internet: the page loads only these files and calls only this port's Connect gateway.
//
// Guarantees:
// - The files are read once, at start, with the gzip and brotli forms the build wrote beside
//   them (dashboard/compress.mjs); a request costs no disk read and no compression, and the
//   start compresses nothing. A file without them is served as it is. A service built without
//   the dashboard serves a 404 at / that says how to build it, and runs otherwise.
// - /assets/* are named by their content's hash, so they are cached for a year (immutable);
//   the page itself is never cached, so a new version is picked up at the next load.
// - Every answer carries a Content-Security-Policy that allows only this origin's scripts,
//   styles and calls, no framing (a cancel button cannot be clickjacked), and nosniff.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";

interface Asset {
  type: string;
  cache: string;
  identity: Buffer;
  gzip: Buffer | undefined;
  brotli: Buffer | undefined;
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

export const securityHeaders = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

export interface DashboardAssets {
  /** Whether the dashboard was built and found. */
  readonly available: boolean;
  /** Answers a GET or HEAD for `path`; false when the path is not the dashboard's. */
  serve(path: string, request: IncomingMessage, response: ServerResponse): boolean;
}

/**
 * What the page needs to know of the service, served as GET /dashboard.json before sign-in:
 * nothing that tells a stranger more (no version).
 */
export interface DashboardSettings {
  /** A trace viewer's address with `{traceId}` where the id goes (SPOOL_TRACE_URL); "" for none. */
  traceUrl: string;
}

export function loadDashboardAssets(directory: string, settings: DashboardSettings): DashboardAssets {
  const files = new Map<string, Asset>();
  if (existsSync(join(directory, "index.html"))) {
    const compressed = (file: string) => (existsSync(file) ? readFileSync(file) : undefined);
    for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || /\.(gz|br)$/.test(entry.name)) continue;
      const full = join(entry.parentPath, entry.name);
      const path = "/" + full.slice(directory.length).split("\\").join("/").replace(/^\/+/, "");
      files.set(path, {
        type: types[extname(entry.name)] ?? "application/octet-stream",
        cache: path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
        identity: readFileSync(full),
        gzip: compressed(`${full}.gz`),
        brotli: compressed(`${full}.br`),
      });
    }
  }
  const settingsBody = Buffer.from(JSON.stringify(settings));
  files.set("/dashboard.json", { type: "application/json", cache: "no-store", identity: settingsBody, gzip: undefined, brotli: undefined });
  const index = files.get("/index.html");

  return {
    available: index !== undefined,
    serve(path, request, response) {
      const asset = path === "/" ? index : files.get(path);
      if (path !== "/" && !asset) return false;
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" });
        response.end(`${request.method} is not allowed here\n`);
        return true;
      }
      if (!asset) {
        const text = "The dashboard is not built: run `npm run build` in the repository (it runs vite build for dashboard/), then start the service again.\n";
        response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
        response.end(text);
        return true;
      }
      const accepts = String(request.headers["accept-encoding"] ?? "");
      const [encoding, body] =
        asset.brotli && /\bbr\b/.test(accepts)
          ? ["br", asset.brotli]
          : asset.gzip && /\bgzip\b/.test(accepts)
            ? ["gzip", asset.gzip]
            : [undefined, asset.identity];
      response.writeHead(200, {
        ...securityHeaders,
        "Content-Type": asset.type,
        "Content-Length": body.length,
        "Cache-Control": asset.cache,
        Vary: "Accept-Encoding",
        ...(encoding ? { "Content-Encoding": encoding } : {}),
      });
      response.end(request.method === "HEAD" ? undefined : body);
      return true;
    },
  };
}
