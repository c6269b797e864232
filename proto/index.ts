// Spool's API as TypeScript: the messages and grpc-js service definitions generated from
// proto/spool/v1 (see proto/gen, DO NOT EDIT), the google.rpc error details it sends
// (status-details.ts), the backoff formula every retry of Spool waits by (backoff.ts), and the
// paths of the raw descriptor sets that server reflection serves.
import { fileURLToPath } from "node:url";

export { AttemptFailure, Backoff as PbBackoff, LogEntry, LogLevel, Progress, Task, TaskError, TaskState } from "./gen/spool/v1/task.js";
export {
  CancelTaskRequest,
  CancelTaskResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  CreateTasksRequest,
  CreateTasksResponse,
  GetTaskRequest,
  GetTaskResponse,
  ListTasksRequest,
  ListTasksResponse,
  RetryTaskRequest,
  RetryTaskResponse,
  StreamLogsRequest,
  StreamLogsResponse,
  TaskServiceClient,
  TaskServiceService,
  type TaskServiceServer,
  TaskView,
  WatchTaskRequest,
  WatchTaskResponse,
} from "./gen/spool/v1/task_service.js";
export {
  CatchUp,
  CreateScheduleRequest,
  CreateScheduleResponse,
  DeleteScheduleRequest,
  DeleteScheduleResponse,
  GetScheduleRequest,
  GetScheduleResponse,
  ListSchedulesRequest,
  ListSchedulesResponse,
  PauseScheduleRequest,
  PauseScheduleResponse,
  ResumeScheduleRequest,
  ResumeScheduleResponse,
  Schedule,
  ScheduleServiceClient,
  ScheduleServiceService,
  type ScheduleServiceServer,
  TaskTemplate,
  TriggerScheduleRequest,
  TriggerScheduleResponse,
  UpdateScheduleRequest,
  UpdateScheduleResponse,
} from "./gen/spool/v1/schedule_service.js";
export {
  ActivityBucket,
  GetActivityRequest,
  GetActivityResponse,
  ListQueuesRequest,
  ListQueuesResponse,
  PauseQueueRequest,
  PauseQueueResponse,
  Queue,
  QueueDepth,
  QueueServiceClient,
  QueueServiceService,
  type QueueServiceServer,
  ResumeQueueRequest,
  ResumeQueueResponse,
  UpdateQueueRequest,
  UpdateQueueResponse,
} from "./gen/spool/v1/queue_service.js";
export {
  AdminServiceClient,
  AdminServiceService,
  type AdminServiceServer,
  GetCallerRequest,
  GetCallerResponse,
  ListWorkersRequest,
  ListWorkersResponse,
  Replica,
  ReplicaState,
  WorkerThread,
  WorkerThreadState,
} from "./gen/spool/v1/admin_service.js";
export { Duration } from "./gen/google/protobuf/duration.js";
export { Timestamp } from "./gen/google/protobuf/timestamp.js";
export { Any } from "./gen/google/protobuf/any.js";
export { Status as RpcStatus } from "./gen/google/rpc/status.js";
export { RetryInfo } from "./gen/google/rpc/error_details.js";
export * from "./backoff.js";
export * from "./convert.js";
export * from "./status-details.js";

/**
 * FileDescriptorSet (binary) of spool.v1, the error details it sends (google.rpc.Status and
 * RetryInfo), and the well-known types they import.
 */
export const spoolDescriptorSetPath = fileURLToPath(new URL("../gen/spool.binpb", import.meta.url));
/** FileDescriptorSet (binary) of grpc.health.v1, as shipped by grpc-health-check. */
export const healthDescriptorSetPath = fileURLToPath(new URL("../gen/health.binpb", import.meta.url));
