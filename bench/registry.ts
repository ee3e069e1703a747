import { artifactBuildBench } from './artifact-build.js';
import { compressionBench } from './compression.js';
import { bridgeProcess100kBench, bridgeProcessBench } from './bridge-process.js';
import { bridgeSyncBench } from './bridge-sync.js';
import { consoleBench } from './console.js';
import { deltaBench } from './delta.js';
import { gatesBench } from './gates.js';
import { replicasBench } from './replicas.js';
import { rolloutBench } from './rollout.js';
import { simFleetBench } from './sim-fleet.js';
import { simNextBench } from './sim-next.js';

export interface BenchResult {
  /** One line for the README table. */
  summary: string;
  target: string;
  met: boolean;
  figures: Record<string, number | string>;
  baseline?: Record<string, number | string>;
  ratio?: number;
}

export interface Benchmark {
  name: string;
  run(): Promise<BenchResult>;
}

export const benchmarks: Benchmark[] = [
  artifactBuildBench,
  gatesBench,
  bridgeSyncBench,
  simFleetBench,
  simNextBench,
  rolloutBench,
  bridgeProcessBench,
  bridgeProcess100kBench,
  replicasBench,
  consoleBench,
  compressionBench,
  deltaBench,
];
