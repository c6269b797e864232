import { TaskState, type Task } from "@spool/proto/es/spool/v1/task_pb";
import { stateName } from "../format.js";

/** A task's state as a coloured word, "cancelling" while a cancel is on its way. */
export function StateBadge({ task }: { task: Task }) {
  const name = stateName(task.state).toLowerCase();
  const cancelling = task.cancelRequested && task.state === TaskState.RUNNING;
  return <span class={`badge state-${name}`}>{cancelling ? "cancelling" : name}</span>;
}
