/**
 * The kernel's scheduling groups by session (autogroup, `kernel.sched_autogroup_enabled`): whether
 * they are on, and a process's group as /proc/<pid>/autogroup says it ("/autogroup-85 nice 0").
 */
import { existsSync, readFileSync } from 'node:fs';

export const autogroupsOn: boolean = (() => {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1' && existsSync('/proc/self/autogroup');
  } catch {
    return false;
  }
})();

/** A process's group line, e.g. "/autogroup-85 nice 0". */
export const autogroupOf = (pid: number | 'self'): string => readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim();

/** The niceness in a group line. */
export const groupNice = (line: string): number => Number(/nice (-?\d+)/.exec(line)?.[1]);
