// Bundled as dist/device/mender-scripts/Sync_Leave_50_vancore-gate: the download gate of the C++
// client mender-update ≥ 5.0.1 (a rootfs script: /etc/mender/scripts). Same policy as Download_Enter;
// there, exit 1 reports nothing and the deployment stays pending (RECIPE-current §3.2 (c)).
import { runDownloadGate } from '../gate/download.js';
import { runScript } from '../gate/script.js';

void runScript('Sync_Leave', (o) => runDownloadGate(o, 'Sync_Leave'));
