/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` / `vite preview` forward the API to a running `hearth serve`. The server refuses
// Host headers other than localhost/127.0.0.1, hence changeOrigin.
const target = process.env.HEARTH_URL || 'http://127.0.0.1:7337';
const proxy = Object.fromEntries(
  ['/api', '/v1', '/health', '/openapi.json'].map((path) => [path, { target, changeOrigin: true }]),
);

// `vite preview` answers with the content security policy `hearth serve` puts on the UI
// (crates/hearth-server/src/ui.rs), so a preview run shows what the policy would block.
const csp =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export default defineConfig({
  plugins: [react()],
  base: './',
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 600 },
  server: { proxy },
  preview: { proxy, headers: { 'Content-Security-Policy': csp } },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
