// A real MCP client for the task tests: the official TypeScript SDK's Client
// with its (experimental) client-side tasks, driven by the Go test
// cmd/mcp-cfstorage/tasks_sdk_e2e_test.go. It connects over stdio (spawning
// the server) or Streamable HTTP, prints one JSON line per event on stdout,
// and takes commands from stdin, one a line:
//
//   call <tool> <json arguments>   callToolStream: the task's events, then its end
//   cancel                         tasks/cancel of the latest task
//   get                            tasks/get of the latest task
//   list                           tasks/list
//   quit
//
// Usage: node client.mjs stdio <binary> [args...]
//        node client.mjs http <url> <bearer token>
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [mode, target, ...rest] = process.argv.slice(2);
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');

let transport;
if (mode === 'stdio') {
  transport = new StdioClientTransport({ command: target, args: rest, env: process.env, stderr: 'inherit' });
} else {
  transport = new StreamableHTTPClientTransport(new URL(target),
    { requestInit: { headers: { Authorization: `Bearer ${rest[0]}` } } });
}
const client = new Client({ name: 'tasks-e2e', version: '1.0.0' },
  { capabilities: {}, defaultTaskPollInterval: 50 });
await client.connect(transport);
emit({ event: 'connected', protocol: transport.protocolVersion ?? null,
  capabilities: client.getServerCapabilities() });

const { tools } = await client.listTools(); // caches which tools may run as tasks
emit({ event: 'tools', tasks: tools.filter((t) => t.execution?.taskSupport).map((t) => [t.name, t.execution.taskSupport]) });

let latest = null;
const pending = [];

async function call(tool, args) {
  const stream = client.experimental.tasks.callToolStream({ name: tool, arguments: args }, undefined, {
    onprogress: (p) => emit({ event: 'progress', progress: p.progress, total: p.total ?? null }),
    timeout: 120000,
  });
  for await (const msg of stream) {
    switch (msg.type) {
      case 'taskCreated':
        latest = msg.task.taskId;
        emit({ event: 'created', task: msg.task });
        break;
      case 'taskStatus':
        emit({ event: 'status', task: msg.task });
        break;
      case 'result':
        emit({ event: 'result', result: msg.result });
        break;
      case 'error':
        emit({ event: 'error', message: String(msg.error?.message ?? msg.error) });
        break;
    }
  }
  emit({ event: 'end', tool });
}

async function run(line) {
  const [cmd, tool, ...json] = line.trim().split(' ');
  try {
    switch (cmd) {
      case 'call':
        pending.push(call(tool, JSON.parse(json.join(' ') || '{}')));
        break;
      case 'cancel':
        emit({ event: 'cancelled', task: await client.experimental.tasks.cancelTask(latest) });
        break;
      case 'get':
        emit({ event: 'got', task: await client.experimental.tasks.getTask(latest) });
        break;
      case 'list':
        emit({ event: 'listed', tasks: (await client.experimental.tasks.listTasks()).tasks });
        break;
      case 'quit':
        await Promise.all(pending);
        await client.close();
        process.exit(0);
    }
  } catch (err) {
    emit({ event: 'failed', command: cmd, message: String(err?.message ?? err) });
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  await run(line);
}
await Promise.all(pending);
await client.close();
