// Builds the operator's dashboard into dist/web, which the management listener serves. Everything is bundled
// locally: the deployment network is offline, so nothing may come from a CDN.
import { defineConfig, type ProxyOptions } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const target = process.env.PITCREW_DEV_TARGET ?? 'http://localhost:5000';

// The server refuses state-changing requests from a foreign Origin; in development the page's origin is Vite's,
// so the proxy presents the server's own origin instead.
const proxyTo = (ws: boolean): ProxyOptions => ({
  target,
  ws,
  changeOrigin: true,
  configure: (proxy) => {
    proxy.on('proxyReq', (request) => request.setHeader('origin', target));
    proxy.on('proxyReqWs', (request) => request.setHeader('origin', target));
  },
});

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
    // The CSS transform of Bootstrap is slow on these machines; that is expected, not worth a warning every build.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    port: 5173,
    proxy: { '/api': proxyTo(false), '/socket.io': proxyTo(true) },
  },
});
