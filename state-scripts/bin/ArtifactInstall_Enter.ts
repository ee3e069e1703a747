// Bundled as dist/device/mender-scripts/ArtifactInstall_Enter_50_vancore-gate (an artifact script: `-s`).
import { runInstallGate } from '../gate/install.js';
import { runScript } from '../gate/script.js';

void runScript('ArtifactInstall_Enter', runInstallGate);
