// Bundled as dist/device/mender-scripts/Download_Enter_50_vancore-gate (a rootfs script: /etc/mender/scripts).
import { runDownloadGate } from '../gate/download.js';
import { runScript } from '../gate/script.js';

void runScript('Download_Enter', runDownloadGate);
