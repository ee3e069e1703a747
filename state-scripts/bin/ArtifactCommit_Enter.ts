// Bundled as dist/device/mender-scripts/ArtifactCommit_Enter_50_vancore-validate (an artifact script: `-s`).
import { runCommitGate } from '../gate/commit.js';
import { runScript } from '../gate/script.js';

void runScript('ArtifactCommit_Enter', runCommitGate);
