// The installer stick, from the System page: boards whose bootloader does not try the network boot it from USB
// (in the default boot order of every Pi 4 and Pi 5). The server builds the image from its prepared network boot
// folder for the URL given here; the browser downloads it through a plain link, with the session cookie.
import { useState } from 'react';
import type { SystemStatus } from '../../../src/contracts/api.js';
import { checkInstallerServerUrl } from '../../../src/contracts/installer-server-url.js';
import { api } from '../api/api.client.js';
import { Field } from './form.js';

/** The address boards most likely reach: the configured device URL, else the folder's, else this page's host. */
export function defaultStickServerUrl(status: SystemStatus, pageHost: string): string {
  return status.device_url ?? status.usb_stick.server_url ?? `http://${pageHost}:${status.device_port}`;
}

export function UsbStickDownload({ status }: { status: SystemStatus }) {
  const [serverUrl, setServerUrl] = useState(() => defaultStickServerUrl(status, window.location.hostname));
  const problem = checkInstallerServerUrl(serverUrl.trim());
  if (!status.usb_stick.available) {
    return (
      <div className="small text-body-secondary" data-testid="usb-stick-unavailable">
        A USB installer stick is built from the network boot folder: run <code>pitcrew netboot build</code> and{' '}
        <code>pitcrew netboot prepare --image &lt;raspios.img&gt;</code> on this server first.
      </div>
    );
  }
  return (
    <form className="row g-2 align-items-start" data-testid="usb-stick" onSubmit={(event) => event.preventDefault()}>
      <div className="col-12 col-md-8">
        <Field
          label="Pitcrew server, as the boards reach it"
          error={problem ? `${problem[0]!.toUpperCase()}${problem.slice(1)}.` : undefined}
          help="The installer on the stick asks this address for its image; the board gets its own address by DHCP on whatever network it is plugged into."
          className="mb-0"
          testId="usb-stick-server-url"
        >
          {(control) => (
            <input
              id={control.id}
              aria-describedby={control.describedBy}
              className={control.className()}
              value={serverUrl}
              onChange={(event) => setServerUrl(event.target.value)}
              spellCheck={false}
              data-testid="usb-stick-server-url"
            />
          )}
        </Field>
      </div>
      <div className="col-12 col-md-4 pt-md-4 mt-md-2">
        {problem ? (
          <button type="button" className="btn btn-primary" disabled data-testid="usb-stick-download">Download stick image</button>
        ) : (
          <a className="btn btn-primary" href={api.netboot.usbImageUrl({ server_url: serverUrl.trim() })} download data-testid="usb-stick-download">Download stick image</a>
        )}
      </div>
      <div className="col-12 small text-body-secondary">
        Write the .img to a USB stick (Raspberry Pi Imager: <em>Use custom</em>), plug it into a board with an empty SD card or NVMe drive, and
        power it on. The installer never writes the stick, and asks on the screen and on the deployment card for it to be removed before the board restarts.
      </div>
    </form>
  );
}
