// Bundled as dist/device/mender-scripts/ArtifactInstall_Error_50_vancore-gate (an artifact script: `-s`).
import { runInstallErrorHook } from '../gate/install-error.js';
import { runHook } from '../gate/script.js';

void runHook('ArtifactInstall_Error', runInstallErrorHook);
