import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, describeConfig, loadConfig, readSetting } from './config.js';

describe('server configuration', () => {
  it('has safe defaults for every key', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 5000, devicePort: 5001, host: '0.0.0.0', deviceHost: '0.0.0.0', staleMinutes: 10, adminPassword: null, deviceUrl: null, deviceToken: null, logLevel: 'info', trustedOrigins: [],
    });
    expect(config.dataDir).toMatch(/\/data$/);
    for (const spec of Object.values(CONFIG_KEYS)) {
      expect(spec.env).toMatch(/^PITCREW_[A-Z_]+$/);
      expect(spec.description.length).toBeGreaterThan(10);
    }
    expect(describeConfig()).toContain('PITCREW_STALE_MINUTES');
  });

  it('reads the environment, and flags win over it', () => {
    const config = loadConfig(
      { PITCREW_PORT: '8080', PITCREW_DEVICE_URL: 'http://10.0.0.1:5001/', PITCREW_MAX_IMAGE_BYTES: '16G', PITCREW_TRUSTED_ORIGINS: 'http://localhost:5173/, https://pitcrew.lan', PITCREW_LOG_LEVEL: 'WARN' },
      { port: '9090', staleMinutes: 3 },
    );
    expect(config).toMatchObject({ port: 9090, staleMinutes: 3, deviceUrl: 'http://10.0.0.1:5001', maxImageBytes: 16 * 2 ** 30, trustedOrigins: ['http://localhost:5173', 'https://pitcrew.lan'], logLevel: 'warn' });
  });

  it('reads network boot as a setting like any other: off by default, on with PITCREW_NETBOOT=1 or the --netboot switch', () => {
    expect(loadConfig({}).netboot).toBe(false);
    expect(loadConfig({ PITCREW_NETBOOT: '1' }).netboot).toBe(true);
    expect(loadConfig({ PITCREW_NETBOOT: '0' }, { netboot: 'true' }).netboot).toBe(true);
    expect(() => loadConfig({ PITCREW_NETBOOT: 'maybe' })).toThrow(/PITCREW_NETBOOT.*must be 1 or 0/);
  });

  it('reads one setting alone for commands that do not start the server, with the same rules and message', () => {
    expect(readSetting('devicePort', {})).toBe(5001);
    expect(readSetting('devicePort', { PITCREW_DEVICE_PORT: '6001' })).toBe(6001);
    expect(readSetting('sessionHours', { PITCREW_SESSION_HOURS: '2' })).toBe(2);
    // A bad unrelated setting does not stop a command that does not need it.
    expect(readSetting('devicePort', { PITCREW_ADMIN_PASSWORD: 'abc' })).toBe(5001);
    expect(() => readSetting('devicePort', { PITCREW_DEVICE_PORT: '65536' })).toThrow(ConfigError);
    expect(() => readSetting('devicePort', { PITCREW_DEVICE_PORT: '5001x' })).toThrow(/PITCREW_DEVICE_PORT="5001x": must be a TCP port/);
  });

  it('refuses to start on bad values, naming each variable and what it expects', () => {
    const attempt = () => loadConfig({ PITCREW_PORT: '70000', PITCREW_STALE_MINUTES: 'ten', PITCREW_DEVICE_URL: 'ftp://x', PITCREW_DEVICE_TOKEN: 'short', PITCREW_LOG_LEVEL: 'loud', PITCREW_MAX_IMAGE_BYTES: '-1', PITCREW_ADMIN_PASSWORD: 'abc' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PITCREW_PORT="70000"', 'PITCREW_STALE_MINUTES="ten"', 'PITCREW_DEVICE_URL', 'PITCREW_DEVICE_TOKEN', 'PITCREW_LOG_LEVEL', 'PITCREW_MAX_IMAGE_BYTES', 'PITCREW_ADMIN_PASSWORD']) {
        expect(message).toContain(name);
      }
      expect(message).toMatch(/PITCREW_PORT="70000": must be a TCP port, a whole number from 0 to 65535/);
    }
    expect(() => loadConfig({}, { devicePort: 'x' })).toThrow(/--device-port="x"/);
  });
});
