// Notices (store/notify.ts) in tests: dropped, or collected to look at.
import type { Notices } from "../store/notify.js";

export const ignoredNotices: Notices = { due: () => {}, tasks: () => {}, logs: () => {} };

/** Notices kept in order, ids as arrays. */
export function collectedNotices(): Notices & { sent: ({ due: number } | { tasks: string[] } | { logs: string[] })[] } {
  const sent: ({ due: number } | { tasks: string[] } | { logs: string[] })[] = [];
  return {
    sent,
    due: (at) => sent.push({ due: at }),
    tasks: (ids) => sent.push({ tasks: [...ids] }),
    logs: (ids) => sent.push({ logs: [...ids] }),
  };
}
