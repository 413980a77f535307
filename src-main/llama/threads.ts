import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Physical CPU cores this process may use: hyper-threads share a core's arithmetic units, which is what token
 * generation is bound by. On Linux, counted from /proc/cpuinfo (distinct physical id + core id pairs); elsewhere, and
 * when cpuinfo says nothing useful, the logical count. /proc/cpuinfo lists the host's cores even where CPU affinity
 * (taskset, a container's cpuset) allows fewer, so the count is capped at `usable`, Node's
 * `os.availableParallelism()`.
 */
export function physicalCoreCount(cpuinfo?: string, usable: number = availableParallelism()): number {
  const logical = Math.max(1, usable);
  let text = cpuinfo;
  if (text === undefined && process.platform === 'linux') {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = undefined;
    }
  }
  if (text !== undefined) {
    const cores = new Set<string>();
    for (const block of text.split(/\n\s*\n/)) {
      const physical = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
      const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
      if (physical !== undefined && core !== undefined) cores.add(`${physical}:${core}`);
    }
    if (cores.size > 0) return Math.min(cores.size, logical);
  }
  return logical;
}

/**
 * The thread count used where none could be measured (thread-calibration.ts measures `threads: "auto"`): half the
 * usable physical cores, at least one. On 2-core machines 1 thread was often fastest, because llama.cpp's worker
 * threads spin on barriers and every other thread of the process (Node's event loop, the web host, a second chat)
 * then stalls them all.
 */
export function autoThreadCount(physicalCores: number = physicalCoreCount()): number {
  return Math.max(1, Math.floor(physicalCores / 2));
}
