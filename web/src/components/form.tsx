// Form state that validates as the person types: errors show for a field once it has been touched (or once the
// form was submitted), and the submit button knows whether everything is valid.
import { useCallback, useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { describeError } from '../api/api.client.js';

export type Errors<T> = Partial<Record<keyof T, string>>;

export function useForm<T extends Record<string, unknown>>(initial: T, validate: (values: T) => Errors<T>) {
  const [values, setValues] = useState<T>(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof T, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const errors = useMemo(() => validate(values), [values, validate]);
  const isValid = Object.values(errors).every((e) => !e);

  const set = useCallback(<K extends keyof T>(key: K, value: T[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    setTouched((t) => ({ ...t, [key]: true }));
  }, []);
  const reset = useCallback((next: T = initial) => {
    setValues(next);
    setTouched({});
    setSubmitted(false);
  }, [initial]);
  /** The error to show now for a field: nothing until it was touched or the form submitted. */
  const shown = (key: keyof T): string | undefined => (touched[key] || submitted ? errors[key] : undefined);

  return { values, set, setValues, errors, shown, isValid, submitted, markSubmitted: () => setSubmitted(true), reset };
}

/**
 * A form's submit: shows every field's error and stops while any remains, else runs `send` with the button busy, and
 * keeps the server's refusal, in words, for the form to show.
 */
export function useFormSubmit(form: { isValid: boolean; markSubmitted: () => void }, send: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    form.markSubmitted();
    if (!form.isValid) return;
    setBusy(true);
    setError(null);
    try {
      await send();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

interface FieldProps {
  label: ReactNode;
  error?: string;
  help?: ReactNode;
  className?: string;
  children: (control: { id: string; describedBy: string | undefined; invalid: boolean; className: (base?: string) => string }) => ReactNode;
  testId?: string;
}

/** A labelled control with its help text and error, wired for screen readers. */
export function Field({ label, error, help, className = 'mb-3', children, testId }: FieldProps) {
  const id = useId();
  const helpId = help ? `${id}-help` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [errorId, helpId].filter(Boolean).join(' ') || undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="form-label">{label}</label>
      {children({ id, describedBy, invalid: Boolean(error), className: (base = 'form-control') => `${base}${error ? ' is-invalid' : ''}` })}
      {error && <div id={errorId} className="invalid-feedback d-block" data-testid={testId ? `${testId}-error` : undefined}>{error}</div>}
      {help && <div id={helpId} className="form-text">{help}</div>}
    </div>
  );
}

export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
