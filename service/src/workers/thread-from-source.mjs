// Entry of worker threads when Spool runs from its TypeScript sources (under vitest or tsx):
// registers tsx's loader in this thread, then loads the real entry. The built service starts
// its threads on dist/workers/thread.js directly.
import { register } from "tsx/esm/api";

register();
await import("./thread.ts");
