// Notifications on the System page (administrators): the webhooks, a form to add one, a test button, and the
// delivery log with each delivery's attempts, last status code and error.
import { useCallback, useEffect, useState } from 'react';
import {
  WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS, WEBHOOK_FORMATS, type Webhook, type WebhookDelivery, type WebhookEvent, type WebhookFormat,
} from '../../../src/contracts/webhooks.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { Field, useForm, useFormSubmit, type Errors } from './form.js';
import { formatDateTime } from '../../../src/contracts/format.js';
import { useConfirm } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy, ErrorAlert, Loading } from './ui.js';

const FORMAT_HELP: Record<WebhookFormat, string> = {
  json: 'Pitcrew JSON (event, title, message, data) for your own scripts.',
  ntfy: 'ntfy: the URL is the topic, e.g. https://ntfy.example/pitcrew-floor.',
  slack: 'Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord …/slack).',
};
const FORMAT_NAME: Record<WebhookFormat, string> = { json: 'JSON', ntfy: 'ntfy', slack: 'Slack' };
const DELIVERY_VARIANT: Record<WebhookDelivery['status'], string> = { pending: 'warning', delivered: 'success', failed: 'danger' };
/** While something is still being tried, the log refreshes this often; otherwise as slowly as the page's health. */
const PENDING_REFRESH_MS = 2000;
const IDLE_REFRESH_MS = 10_000;

type NewWebhook = { name: string; url: string; format: WebhookFormat; events: WebhookEvent[]; secret: string };
const EMPTY: NewWebhook = { name: '', url: '', format: 'json', events: ['batch_finished', 'device_failed', 'device_not_booted'], secret: '' };
const validate = (v: NewWebhook): Errors<NewWebhook> => ({
  name: v.name.trim() ? undefined : 'Give it a name, e.g. "Floor phone".',
  url: /^https?:\/\/[^\s/?#]+/i.test(v.url.trim()) ? undefined : 'An http:// or https:// address.',
  events: v.events.length ? undefined : 'Choose at least one event.',
  secret: v.secret && v.secret.length < 16 ? 'At least 16 characters, or leave it empty.' : undefined,
});

function WebhookForm({ onCreated }: { onCreated: () => void }) {
  const toast = useToast();
  const form = useForm<NewWebhook>(EMPTY, useCallback(validate, []));
  const { busy, error, submit } = useFormSubmit(form, async () => {
    const { name, url, format, events, secret } = form.values;
    await api.webhooks.create({ name: name.trim(), url: url.trim(), format, events, secret: secret || null });
    toast.success(`Webhook ${name.trim()} added.`);
    form.reset();
    onCreated();
  });
  const toggleEvent = (event: WebhookEvent, on: boolean) =>
    form.set('events', on ? WEBHOOK_EVENTS.filter((e) => e === event || form.values.events.includes(e)) : form.values.events.filter((e) => e !== event));
  return (
    <form onSubmit={(event) => void submit(event)} noValidate data-testid="webhook-form" className="border rounded p-3 mb-3">
      <h3 className="h6">Add a webhook</h3>
      {error && <div className="alert alert-danger" role="alert" data-testid="webhook-form-error">{error}</div>}
      <div className="row g-2">
        <Field label="Name" error={form.shown('name')} className="col-12 col-md-3">
          {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={form.values.name} onChange={(e) => form.set('name', e.target.value)} data-testid="webhook-name" />}
        </Field>
        <Field label="URL" error={form.shown('url')} className="col-12 col-md-5">
          {({ id, describedBy, className }) => <input id={id} type="url" aria-describedby={describedBy} className={className()} value={form.values.url} onChange={(e) => form.set('url', e.target.value)} placeholder="https://" data-testid="webhook-url" />}
        </Field>
        <Field label="Format" help={FORMAT_HELP[form.values.format]} className="col-12 col-md-4">
          {({ id, describedBy, className }) => (
            <select id={id} aria-describedby={describedBy} className={className('form-select')} value={form.values.format} onChange={(e) => form.set('format', e.target.value as WebhookFormat)} data-testid="webhook-format">
              {WEBHOOK_FORMATS.map((f) => <option key={f} value={f}>{FORMAT_NAME[f]}</option>)}
            </select>
          )}
        </Field>
        <fieldset className="col-12 col-md-6">
          <legend className="form-label fs-6">Tell it when</legend>
          {WEBHOOK_EVENTS.map((event) => (
            <div className="form-check form-check-inline" key={event}>
              <input id={`webhook-event-${event}`} type="checkbox" className="form-check-input" checked={form.values.events.includes(event)} onChange={(e) => toggleEvent(event, e.target.checked)} data-testid={`webhook-event-${event}`} />
              <label htmlFor={`webhook-event-${event}`} className="form-check-label">{WEBHOOK_EVENT_LABELS[event]}</label>
            </div>
          ))}
          {form.shown('events') && <div className="invalid-feedback d-block">{form.shown('events')}</div>}
        </fieldset>
        <Field label="Signing secret (optional)" error={form.shown('secret')} help="Signs each delivery (X-Pitcrew-Signature, HMAC-SHA256). Not shown again." className="col-12 col-md-6">
          {({ id, describedBy, className }) => <input id={id} type="password" autoComplete="new-password" aria-describedby={describedBy} className={className()} value={form.values.secret} onChange={(e) => form.set('secret', e.target.value)} data-testid="webhook-secret" />}
        </Field>
      </div>
      <button type="submit" className="btn btn-primary btn-sm" disabled={busy} data-testid="webhook-save"><Busy busy={busy}>Add webhook</Busy></button>
    </form>
  );
}

function WebhookRow({ webhook, onChanged }: { webhook: Webhook; onChanged: () => void }) {
  const toast = useToast();
  const confirm = useConfirm();
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    try {
      await work();
      if (done) toast.success(done);
      onChanged();
    } catch (caught) {
      toast.error(caught);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (await confirm({ title: `Delete webhook ${webhook.name}?`, body: 'Its delivery log goes with it.', confirmLabel: 'Delete', variant: 'danger' })) {
      await act(() => api.webhooks.remove(webhook.id), `Webhook ${webhook.name} deleted.`);
    }
  };
  return (
    <tr data-testid={`webhook-${webhook.id}`}>
      <td>{webhook.name}</td>
      <td className="text-break font-monospace small">{webhook.url}</td>
      <td>{FORMAT_NAME[webhook.format]}</td>
      <td className="small">{webhook.events.map((e) => WEBHOOK_EVENT_LABELS[e]).join(', ')}</td>
      <td>{webhook.has_secret ? 'Signed' : '—'}</td>
      <td>
        <div className="form-check form-switch mb-0">
          <input type="checkbox" className="form-check-input" role="switch" aria-label={`Send notifications to ${webhook.name}`} checked={webhook.enabled} disabled={busy}
            onChange={(e) => void act(() => api.webhooks.update(webhook.id, { enabled: e.target.checked }))} data-testid={`webhook-enabled-${webhook.id}`} />
        </div>
      </td>
      <td className="text-nowrap">
        <button type="button" className="btn btn-outline-primary btn-sm me-1" disabled={busy} onClick={() => void act(() => api.webhooks.sendTest(webhook.id), `Test sent to ${webhook.name}: see the log below.`)} data-testid={`webhook-test-${webhook.id}`}>Send test</button>
        <button type="button" className="btn btn-outline-danger btn-sm" disabled={busy} onClick={() => void remove()} data-testid={`webhook-delete-${webhook.id}`}>Delete</button>
      </td>
    </tr>
  );
}

function DeliveryLog({ deliveries }: { deliveries: WebhookDelivery[] }) {
  if (!deliveries.length) return <p className="text-body-secondary small mb-0" data-testid="webhook-log-empty">Nothing sent yet.</p>;
  return (
    <div className="table-responsive">
      <table className="table table-sm align-middle mb-0" data-testid="webhook-log">
        <thead><tr><th>Queued</th><th>Webhook</th><th>Event</th><th>Status</th><th>Attempts</th><th>HTTP</th><th>Last error / next attempt</th></tr></thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id} data-testid={`webhook-delivery-${d.id}`} data-status={d.status} data-attempts={d.attempts}>
              <td className="text-nowrap small">{formatDateTime(d.created_at)}</td>
              <td>{d.webhook_name}</td>
              <td><div>{WEBHOOK_EVENT_LABELS[d.event]}</div><div className="small text-body-secondary">{d.summary}</div></td>
              <td><span className={`badge text-bg-${DELIVERY_VARIANT[d.status]}`}>{d.status}</span></td>
              <td>{d.attempts}</td>
              <td data-testid={`webhook-delivery-code-${d.id}`}>{d.last_status_code ?? '—'}</td>
              <td className="small text-break" data-testid={`webhook-delivery-error-${d.id}`}>
                {d.last_error ?? ''}
                {d.status === 'pending' && d.next_attempt_at && <div className="text-body-secondary">Next attempt {formatDateTime(d.next_attempt_at)}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function WebhooksPanel() {
  const webhooks = useResource((signal) => api.webhooks.list(signal), []);
  const log = useResource((signal) => api.webhooks.deliveries({ limit: 50 }, signal), []);
  const anyPending = log.data?.deliveries.some((d) => d.status === 'pending') ?? false;
  useEffect(() => {
    const timer = setInterval(log.reload, anyPending ? PENDING_REFRESH_MS : IDLE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [anyPending, log.reload]);
  const changed = () => {
    webhooks.reload();
    log.reload();
  };
  return (
    <section className="card mt-4" data-testid="webhooks-panel">
      <div className="card-header bg-transparent d-flex justify-content-between align-items-center">
        <h2 className="h6 mb-0">Notifications (webhooks)</h2>
        <button type="button" className="btn btn-outline-secondary btn-sm" onClick={changed} data-testid="webhook-log-refresh">Refresh</button>
      </div>
      <div className="card-body">
        <p className="small text-body-secondary">Tell people off the floor when a batch finished, a device failed or an imaged device did not boot. Failed deliveries are retried with growing pauses for about 20 minutes.</p>
        <ErrorAlert error={webhooks.error} onRetry={webhooks.reload} />
        {webhooks.loading ? <Loading /> : webhooks.data && webhooks.data.webhooks.length > 0 && (
          <div className="table-responsive mb-3">
            <table className="table table-sm align-middle" data-testid="webhook-list">
              <thead><tr><th>Name</th><th>URL</th><th>Format</th><th>Events</th><th>Secret</th><th>On</th><th /></tr></thead>
              <tbody>{webhooks.data.webhooks.map((w) => <WebhookRow key={w.id} webhook={w} onChanged={changed} />)}</tbody>
            </table>
          </div>
        )}
        <WebhookForm onCreated={changed} />
        <h3 className="h6">Delivery log</h3>
        <ErrorAlert error={log.error} onRetry={log.reload} />
        {log.data && <DeliveryLog deliveries={log.data.deliveries} />}
      </div>
    </section>
  );
}
