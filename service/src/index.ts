// @spool/server as a library: start a replica inside another Node process (tests, tools).
export { loadConfig, type Config } from "./config.js";
export { startSpool, type Spool } from "./spool.js";
