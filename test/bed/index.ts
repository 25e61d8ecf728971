// The test bed: a real buildkitd, a real registry and a busybox base image, all on this machine.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBuildkitd, type Buildkitd } from './buildkitd.js';
import { startRegistry, type Registry } from './registry.js';
import { seedBusybox } from './seed.js';
import { findTools, type Tools } from './tools.js';

export type Bed = {
  tools: Tools;
  dir: string;
  buildkitd: Buildkitd;
  registry: Registry;
  /** `127.0.0.1:PORT/bed/busybox:latest`, a base image with /bin/sh. */
  busybox: string;
  /** Stops both daemons by PID; prints their log tails when `failed`. */
  stop: (failed?: boolean) => Promise<void>;
};

/** A fresh temp dir that the caller removes. */
export const tempDir = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), `bks-${prefix}-`));

/** Starts everything; on any failure stops what started and throws with the reason and log tails. */
export async function startBed(): Promise<Bed> {
  const tools = findTools();
  const dir = tempDir('bed');
  let buildkitd: Buildkitd | undefined;
  let registry: Registry | undefined;
  const stop = async (failed = false) => {
    if (failed) {
      for (const daemon of [buildkitd, registry]) {
        if (daemon) process.stderr.write(`--- ${daemon.name} log tail (${daemon.logFile}) ---\n${daemon.logTail()}\n`);
      }
    }
    await Promise.all([buildkitd?.stop(), registry?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    buildkitd = await startBuildkitd(tools, { dir: path.join(dir, 'buildkitd') });
    registry = await startRegistry(tools, { dir: path.join(dir, 'registry') });
    const busybox = seedBusybox(tools, buildkitd.endpoint, registry.host, path.join(dir, 'seed'));
    return { tools, dir, buildkitd, registry, busybox, stop };
  } catch (error) {
    await stop(true);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString();
    throw new Error(`test bed failed to start: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`, {
      cause: error,
    });
  }
}
