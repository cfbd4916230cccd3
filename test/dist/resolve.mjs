// Resolves an unpacked MCP Bundle's mcp_config the way Claude Desktop does,
// with mcpb's own getMcpConfigForManifest: ${__dirname} becomes the bundle's
// directory, ${user_config.x} the user's settings (or the manifest's
// defaults). Prints {command, args, env} as JSON.
//   node resolve.mjs BUNDLE_DIR '{"files_root": "/tmp/files"}'
import { readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const [dir, userConfig = "{}"] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const home = process.env.HOME;
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: { HOME: home, DESKTOP: join(home, "Desktop"), DOCUMENTS: join(home, "Documents"), DOWNLOADS: join(home, "Downloads") },
  userConfig: JSON.parse(userConfig),
  pathSeparator: sep,
});
if (!config) {
  console.error("resolve.mjs: the bundle's required settings are missing");
  process.exit(1);
}
process.stdout.write(JSON.stringify(config) + "\n");
