export { defineTask, isTaskDefinition } from "./task.js";
export type { InputSchema, TaskContext, TaskDefinition, TaskLogger } from "./task.js";
