// Process facts read from /proc (Linux): a pid's stat fields, children of a pid and whether a pid
// is alive.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after "pid (comm) ": state is field 0, ppid 1, utime 11, stime 12.
 * Undefined once the process is gone.
 */
export function procStat(pid: number | string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited while we looked
  }
  // comm may contain spaces and parentheses, so split after the last ')'
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Pids of the processes for which `test` (given the pid as /proc names it) holds; a process that
 * exits while `test` reads its files is left out.
 */
export function pidsWhere(test: (pid: string) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (test(name)) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Pids whose parent is `ppid` (e.g. an nginx master's workers). */
export function childPids(ppid: number): number[] {
  return pidsWhere((pid) => Number(procStat(pid)?.[1]) === ppid);
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const fields = procStat(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

/** True while `pid` runs with its working directory inside `dir` (not a reused pid elsewhere). */
export function runsIn(pid: number | string, dir: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
  } catch {
    return false; // gone
  }
}

/** Pids of the processes whose working directory is inside `dir`. */
export function pidsIn(dir: string): number[] {
  return pidsWhere((pid) => runsIn(pid, dir));
}

/** Pids of the processes with `arg` among their command-line arguments. */
export function pidsWithArg(arg: string): number[] {
  return pidsWhere((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(arg));
}
