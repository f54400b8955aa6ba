// Builds the reading page's one script (static/viewer/src/workstation.js) into static/viewer/dist/, where
// Django serves it as /static/viewer/dist/; chunks, codec workers and wasm go under dist/assets/.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/viewer/dist/",
  publicDir: false,
  // The DICOM loader starts its decoders as module workers; pre-bundling would break their URLs.
  optimizeDeps: { exclude: ["@cornerstonejs/dicom-image-loader"] },
  worker: { format: "es" },
  build: {
    outDir: "static/viewer/dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      input: { workstation: "static/viewer/src/workstation.js" },
      output: {
        // Stable names for what the template links; everything else is content-hashed.
        entryFileNames: "[name].js",
        assetFileNames: (asset) => ((asset.names || []).some((n) => n.endsWith(".css")) ? "[name][extname]" : "assets/[name]-[hash][extname]"),
      },
    },
  },
});
