// client.mjs: `boxlite mcp` driven by the official MCP TypeScript SDK's
// client over its stdio transport, as an agent's host program drives it,
// against real boxes under a temporary BOXLITE_HOME.
//
// BOXLITE_CLI names the binary under test; BOXLITE_AGENT, BOXLITE_SHIM and
// BOXLITE_NET (set by meson) reach the server through its environment.
// Run by meson (suite mcp) as: node tests/mcp/client.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let sdk;
try {
    sdk = {
        ...(await import('@modelcontextprotocol/sdk/client/index.js')),
        ...(await import('@modelcontextprotocol/sdk/client/stdio.js')),
    };
} catch (e) {
    console.error('the MCP SDK is missing: run `npm ci` in tests/mcp (scripts/setup.sh does)');
    throw e;
}

const cli = process.env.BOXLITE_CLI;
assert.ok(cli, 'BOXLITE_CLI is not set');
const home = mkdtempSync(join(tmpdir(), 'boxlite-mcp-test-'));
// Booting under TCG on a loaded machine takes seconds, not the SDK's 60 s
// default; a call still gets a bound.
const CALL = { timeout: 600_000 };

let client;
let transport;

// `boxlite mcp` on our home, connected.
async function startServer() {
    const env = { BOXLITE_HOME: home };
    for (const name of ['BOXLITE_AGENT', 'BOXLITE_SHIM', 'BOXLITE_NET', 'BOXLITE_KERNEL',
                        'BOXLITE_DEFAULT_IMAGE', 'G_DEBUG', 'G_MESSAGES_DEBUG']) {
        if (process.env[name]) env[name] = process.env[name];
    }
    const t = new sdk.StdioClientTransport({ command: cli, args: ['mcp'], env, stderr: 'inherit' });
    const c = new sdk.Client({ name: 'boxlite-test', version: '1.0.0' });
    await c.connect(t);
    return { c, t };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
    ({ c: client, t: transport } = await startServer());
});

after(async () => {
    await client?.close();
    rmSync(home, { recursive: true, force: true });
});

// The text of a tool's result, checking its isError.
function text(result, isError) {
    assert.equal(result.isError, isError, `isError: ${JSON.stringify(result)}`);
    for (const block of result.content) assert.equal(block.type, 'text');
    return result.content.map((block) => block.text).join('\n');
}

async function call(name, args, isError = false, options = CALL) {
    const result = await client.callTool({ name, arguments: args }, undefined, options);
    return text(result, isError);
}

function boxDirs() {
    try {
        return readdirSync(join(home, 'boxes'), { withFileTypes: true })
            .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
            .map((entry) => entry.name);
    } catch {
        return [];
    }
}

test('initialize: the server says who it is and that it has tools', () => {
    assert.equal(client.getServerVersion().name, 'boxlite');
    assert.ok(client.getServerCapabilities().tools);
    assert.match(client.getInstructions(), /run_code/);
});

test('tools/list names every tool, each with an object schema', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(),
        ['create_box', 'exec', 'list_boxes', 'list_files', 'read_file', 'remove_box', 'run_code',
         'write_file']);
    for (const tool of tools) {
        assert.equal(tool.inputSchema.type, 'object');
        assert.ok(tool.description.length > 20);
    }
    const exec = tools.find((t) => t.name === 'exec');
    assert.deepEqual(exec.inputSchema.required, ['box', 'command']);
});

test('run_code python prints, in a fresh box that is gone afterwards', async () => {
    const out = await call('run_code', {
        language: 'python',
        code: 'import platform\nprint(6 * 7)\nprint(platform.system())\n',
    });
    assert.match(out, /^42\nLinux\n/);
    assert.match(out, /exit status 0/);
    assert.deepEqual(boxDirs(), []);
    assert.doesNotMatch(await call('list_boxes', {}), /\n./);
});

test('run_code: a failing shell script sets isError with its exit status', async () => {
    const out = await call('run_code', {
        language: 'shell',
        code: 'echo to-out\necho to-err >&2\nexit 3\necho never\n',
        network: false,
    }, true);
    assert.match(out, /to-out/);
    assert.match(out, /stderr:\nto-err/);
    assert.match(out, /exit status 3/);
    assert.doesNotMatch(out, /never/);
    assert.deepEqual(boxDirs(), []);
});

test('create_box, then exec with an argv and with a string for sh -c', async () => {
    assert.match(await call('create_box', { name: 'work', network: 'none', env: { GREETING: 'hej' } }),
        /created and started box work/);
    assert.match(await call('exec', { box: 'work', command: ['uname', '-s'] }), /^Linux\n/);
    assert.match(await call('exec', { box: 'work', command: 'echo "$GREETING" | tr a-z A-Z' }),
        /^HEJ\n/);
    // An argv is not a shell line: the pipe is an argument to echo.
    assert.match(await call('exec', { box: 'work', command: ['echo', 'a', '|', 'tr', 'a', 'b'] }),
        /^a \| tr a b\n/);
    assert.match(await call('exec', { box: 'work', command: 'pwd', working_dir: '/tmp' }), /^\/tmp\n/);
});

test('exec: failures are errors the model can read', async () => {
    assert.match(await call('exec', { box: 'work', command: ['false'] }, true), /exit status 1/);
    assert.match(await call('exec', { box: 'work', command: ['no-such-command'] }, true),
        /no-such-command: command not found/);
    assert.match(await call('exec', { box: 'work', command: ['sleep', '30'], timeout_seconds: 1 }, true),
        /timed out after 1 s/);
    assert.match(await call('exec', { box: 'nobox', command: 'true' }, true), /nobox/);
});

test('exec: output past 64 KiB is cut, with a note', async () => {
    const out = await call('exec', { box: 'work', command: 'head -c 300000 /dev/zero | tr "\\0" a' });
    assert.match(out, /\[output truncated: 300000 bytes in all, the first 65536 shown\]/);
    assert.ok(out.length < 70000);
    assert.match(out, /^a{65536}\n/);
});

test('write_file, read_file and list_files', async () => {
    assert.match(await call('write_file', { box: 'work', path: '/tmp/hello.txt', content: 'hi there\n' }),
        /wrote 9 bytes/);
    assert.equal(await call('read_file', { box: 'work', path: '/tmp/hello.txt' }), 'hi there\n');
    const binary = Buffer.from([0, 255, 1, 128, 10, 0]);
    await call('write_file', { box: 'work', path: '/tmp/bin', content: binary.toString('base64'),
                               encoding: 'base64', mode: '0755' });
    assert.equal(await call('read_file', { box: 'work', path: '/tmp/bin', encoding: 'base64' }),
        binary.toString('base64'));
    assert.match(await call('read_file', { box: 'work', path: '/tmp/bin' }, true), /base64/);
    assert.match(await call('exec', { box: 'work', command: 'stat -c %a /tmp/bin' }), /^755\n/);
    assert.match(await call('read_file', { box: 'work', path: '/tmp/hello.txt', max_bytes: 4 }, true),
        /more than/);
    assert.match(await call('read_file', { box: 'work', path: '/nonexistent' }, true), /nonexistent/);
    assert.match(await call('write_file', { box: 'work', path: '/no/such/dir/f', content: 'x' }, true),
        /\/no\/such\/dir: No such file/);
    const listing = await call('list_files', { box: 'work', path: '/tmp' });
    assert.match(listing, /^-rw-r--r-- .* 9 .* hello\.txt$/m);
    assert.match(listing, /^-rwxr-xr-x .* bin$/m);
    assert.match(await call('list_files', { box: 'work', path: '/nonexistent' }, true),
        /No such file/);
    await call('exec', { box: 'work', command: ['mkdir', '/tmp/sub'] });
    await call('write_file', { box: 'work', path: '/tmp/sub/deep.txt', content: 'deep' });
    const tree = await call('list_files', { box: 'work', path: '/tmp', recursive: true });
    assert.match(tree, /^\/tmp\/sub:\n(.*\n)*-rw-r--r-- .* 4 .* deep\.txt$/m);
    assert.doesNotMatch(await call('list_files', { box: 'work', path: '/tmp' }), /deep\.txt/);
});

test('run_code in a box made before, with a script longer than any argv', async () => {
    const lines = [];
    for (let i = 0; i < 20000; i++) lines.push(`x=${i} # ${'.'.repeat(20)}`);
    lines.push('echo "last: $x"; cat /tmp/hello.txt; read y || echo "stdin is empty"');
    const out = await call('run_code', { language: 'shell', code: lines.join('\n'), box: 'work' });
    assert.match(out, /^last: 19999\nhi there\nstdin is empty\n/);
    // A script that ends before it was all read does not hang the call.
    const early = await call('run_code', { language: 'shell', box: 'work',
                                          code: 'exit 0\n' + lines.join('\n') });
    assert.match(early, /exit status 0/);
    const py = await call('run_code', { language: 'python', box: 'work',
                                       code: 'print(open("/tmp/hello.txt").read().upper())' });
    assert.match(py, /^HI THERE\n/);
});

test('list_boxes shows the box running', async () => {
    assert.match(await call('list_boxes', {}), /^[0-9a-f]{32} +work +running /m);
});

// Every call before this one was answered, so none is still running.
test('at most 8 calls run at once; a ninth is refused until one ends', async () => {
    const sleepers = [];
    for (let i = 0; i < 8; i++) {
        sleepers.push(client.callTool({ name: 'exec', arguments: { box: 'work', command: 'sleep 3' } },
            undefined, CALL));
    }
    await assert.rejects(client.callTool({ name: 'list_boxes', arguments: {} }, undefined, CALL),
        (e) => e.code === -32000 && /8 tool calls are running/.test(e.message));
    for (const result of await Promise.all(sleepers)) assert.match(text(result, false), /exit status 0/);
    assert.match(await call('list_boxes', {}), /work/);
});

test('calls are served while a long command runs, and a cancelled one is killed', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const long = client.callTool({ name: 'exec', arguments: { box: 'work', command: ['sleep', '60'] } },
        undefined, { ...CALL, signal: controller.signal });
    long.catch(() => {});
    // The sleep must be running before it is cancelled.
    for (let i = 0; ; i++) {
        const ps = await call('exec', { box: 'work', command: 'ps -eo args' });
        if (/^sleep 60$/m.test(ps)) break;
        assert.ok(i < 100, 'sleep 60 never started');
        await sleep(200);
    }
    await client.ping();
    controller.abort();
    await assert.rejects(long);
    for (let i = 0; ; i++) {
        const ps = await call('exec', { box: 'work', command: 'ps -eo args' });
        if (!/^sleep 60$/m.test(ps)) break;
        assert.ok(i < 100, 'the cancelled command still runs');
        await sleep(200);
    }
    assert.ok(Date.now() - started < 60_000, 'the cancelled call ran to its end');
});

test('remove_box deletes the box and its disk', async () => {
    assert.match(await call('remove_box', { box: 'work' }), /removed box work/);
    assert.doesNotMatch(await call('list_boxes', {}), /work/);
    assert.deepEqual(boxDirs(), []);
    assert.match(await call('remove_box', { box: 'work' }, true), /work/);
});

test('SIGTERM while run_code runs: the command is killed and its fresh box removed', async () => {
    const { c, t } = await startServer();
    const running = c.callTool({ name: 'run_code',
                                 arguments: { language: 'shell', code: 'exec sleep 600', network: false } },
                               undefined, CALL);
    running.catch(() => {});
    for (let i = 0; ; i++) {
        const boxes = await c.callTool({ name: 'list_boxes', arguments: {} });
        if (/ running /.test(text(boxes, false))) break;
        assert.ok(i < 600, 'the fresh box never ran');
        await sleep(200);
    }
    const pid = t.pid;
    process.kill(pid, 'SIGTERM');
    await assert.rejects(running);
    for (let i = 0; ; i++) {
        try {
            process.kill(pid, 0);
        } catch {
            break;
        }
        assert.ok(i < 600, 'the server did not exit after SIGTERM');
        await sleep(100);
    }
    assert.deepEqual(boxDirs(), []);
    await c.close();
});

test('closing the client ends the server and leaves no process behind', async () => {
    const pid = transport.pid;
    await client.close();
    client = undefined;
    assert.throws(() => process.kill(pid, 0));
    let left = '';
    try {
        left = execFileSync('pgrep', ['-a', '-f', '--', home]).toString().trim();
    } catch (e) {
        assert.equal(e.status, 1, 'pgrep failed'); // 1: no process matched
    }
    assert.equal(left, '', `processes left: ${left}`);
});
