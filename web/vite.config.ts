/// <reference types="vitest" />
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The build lands where the Python service serves it from (server/settings.py: web/dist).
export default defineConfig({
  plugins: [react()],
  resolve: { alias: { "@": here("./src") } },
  build: {
    outDir: here("../src/scaler_wizard/web/dist"),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    // `npm run dev` talks to a local `scaler-wizard serve` through this proxy (no CORS needed).
    proxy: { "/api": { target: process.env.SCALER_WIZARD_URL ?? "http://127.0.0.1:8765", changeOrigin: false } },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
