// sdk.mjs: `boxlite serve`'s /e2b API driven by E2B's own JavaScript SDK
// (the `e2b` package, pinned in package-lock.json), pointed at the server
// the way its users would: E2B_API_URL and E2B_SANDBOX_URL set to
// http://HOST:PORT/e2b, E2B_API_KEY to the server's token. Real boxes
// under a temporary BOXLITE_HOME.
//
// BOXLITE_CLI names the binary under test; BOXLITE_AGENT, BOXLITE_SHIM and
// BOXLITE_NET (set by meson) reach the server through its environment.
// Run by meson (suite e2b) as: node tests/e2b/sdk.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let e2b;
try {
    e2b = await import('e2b');
} catch (e) {
    console.error('the E2B SDK is missing: run `npm ci` in tests/e2b (scripts/setup.sh does)');
    throw e;
}
const { Sandbox, CommandExitError, InvalidArgumentError, NotFoundError } = e2b;

const cli = process.env.BOXLITE_CLI;
assert.ok(cli, 'BOXLITE_CLI is not set');
const home = mkdtempSync(join(tmpdir(), 'boxlite-e2b-test-'));
// Booting under TCG on a loaded machine takes a while; calls still get a
// bound.
const SLOW = { requestTimeoutMs: 600_000, timeoutMs: 600_000 };

let server;
let base;
let token;
let sandbox;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
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

before(async () => {
    const port = await freePort();
    const env = { ...process.env, BOXLITE_HOME: home };
    server = spawn(cli, ['serve', '--listen', `127.0.0.1:${port}`], {
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
    });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
        try {
            if ((await fetch(`${base}/v1/config`)).ok) break;
        } catch {
            // not listening yet
        }
        assert.ok(i < 600 && server.exitCode === null, 'boxlite serve did not start');
        await sleep(100);
    }
    token = readFileSync(join(home, 'api-token'), 'utf8').trim();
    process.env.E2B_API_URL = `${base}/e2b`;
    process.env.E2B_SANDBOX_URL = `${base}/e2b`;
    process.env.E2B_API_KEY = token;
});

after(async () => {
    if (sandbox) await Sandbox.kill(sandbox.sandboxId).catch(() => {});
    if (server && server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
        server.kill('SIGTERM');
        assert.deepEqual(await exited, { code: 0, signal: null }, 'boxlite serve did not stop cleanly');
    }
    assert.deepEqual(boxDirs(), [], 'a box was left behind');
    rmSync(home, { recursive: true, force: true });
});

test('create a sandbox from the default template', async () => {
    sandbox = await Sandbox.create({ ...SLOW, metadata: { purpose: 'e2b test' } });
    assert.match(sandbox.sandboxId, /\S/);
    const info = await Sandbox.getInfo(sandbox.sandboxId);
    assert.equal(info.sandboxId, sandbox.sandboxId);
    assert.equal(info.templateId, 'base');
    assert.equal(info.state, 'running');
    assert.ok(info.endAt > info.startedAt);
    assert.equal(boxDirs().length, 1);
});

test('run a command: stdout, stderr, exit code', async () => {
    const r = await sandbox.commands.run('echo hello from $(uname -s); echo oops >&2', SLOW);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'hello from Linux\n');
    assert.equal(r.stderr, 'oops\n');
    const env = await sandbox.commands.run('cd /tmp && echo "$PWD $GREETING"', {
        ...SLOW,
        envs: { GREETING: 'hi' },
    });
    assert.equal(env.stdout, '/tmp hi\n');
});

test('a failing command rejects with its exit code and stderr', async () => {
    await assert.rejects(sandbox.commands.run('echo bad >&2; exit 3', SLOW), (err) => {
        assert.ok(err instanceof CommandExitError, `${err}`);
        assert.equal(err.exitCode, 3);
        assert.equal(err.stderr, 'bad\n');
        return true;
    });
});

test('a background command: listed, streamed while it runs, killed', async () => {
    const seen = [];
    const handle = await sandbox.commands.run('echo started; sleep 600', {
        ...SLOW,
        background: true,
        onStdout: (data) => seen.push(data),
    });
    assert.ok(handle.pid > 0);
    // Its output arrives while it runs.
    for (let i = 0; !seen.join('').includes('started'); i++) {
        assert.ok(i < 600, 'no output from the background command');
        await sleep(100);
    }
    const listed = await sandbox.commands.list();
    const mine = listed.find((p) => p.pid === handle.pid);
    assert.ok(mine, `pid ${handle.pid} in ${JSON.stringify(listed)}`);
    assert.equal(mine.cmd, '/bin/bash');
    // A second client connects to it and sees its end.
    const other = await sandbox.commands.connect(handle.pid, SLOW);
    assert.equal(other.pid, handle.pid);
    assert.equal(await handle.kill(), true);
    await assert.rejects(other.wait(), (err) => err instanceof CommandExitError);
    await assert.rejects(handle.wait(), (err) => {
        assert.ok(err instanceof CommandExitError, `${err}`);
        assert.notEqual(err.exitCode, 0);
        return true;
    });
    assert.equal((await sandbox.commands.list()).some((p) => p.pid === handle.pid), false);
    assert.equal(await sandbox.commands.kill(handle.pid), false);
});

// The envelopes of a stream's body: [{ flags, message }].
function envelopes(body) {
    const out = [];
    for (let at = 0; at < body.length;) {
        assert.ok(at + 5 <= body.length, 'a truncated envelope');
        const len = body.readUInt32BE(at + 1);
        out.push({ flags: body[at], message: JSON.parse(body.subarray(at + 5, at + 5 + len)) });
        at += 5 + len;
    }
    return out;
}

test('a raw Start stream: envelopes, keepalives while quiet, end of stream', async () => {
    const request = JSON.stringify({
        process: { cmd: '/bin/sh', args: ['-c', 'sleep 3; echo out'] },
    });
    const head = Buffer.alloc(5);
    head.writeUInt32BE(Buffer.byteLength(request), 1);
    const res = await fetch(`${base}/e2b/process.Process/Start`, {
        method: 'POST',
        headers: {
            'X-Access-Token': token,
            'E2b-Sandbox-Id': sandbox.sandboxId,
            'Content-Type': 'application/connect+json',
            'Keepalive-Ping-Interval': '1',
        },
        body: Buffer.concat([head, Buffer.from(request)]),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/connect+json');
    const all = envelopes(Buffer.from(await res.arrayBuffer()));
    const kinds = all.slice(0, -1).map((e) => Object.keys(e.message.event)[0]);
    assert.equal(kinds[0], 'start');
    assert.ok(kinds.includes('keepalive'), kinds.join());
    const data = all.filter((e) => e.message.event?.data).map((e) => e.message.event.data.stdout);
    assert.equal(Buffer.concat(data.map((d) => Buffer.from(d, 'base64'))).toString(), 'out\n');
    assert.equal(kinds.at(-1), 'end');
    assert.equal(all.at(-2).message.event.end.exitCode, 0);
    assert.deepEqual(all.at(-1), { flags: 2, message: {} });
});

test('a client that drops its stream leaves the command running', async () => {
    const handle = await sandbox.commands.run('sleep 600', { ...SLOW, background: true });
    await handle.disconnect();
    await sleep(500);
    assert.ok((await sandbox.commands.list()).some((p) => p.pid === handle.pid));
    assert.equal(await sandbox.commands.kill(handle.pid), true);
    for (let i = 0; (await sandbox.commands.list()).some((p) => p.pid === handle.pid); i++) {
        assert.ok(i < 600, 'the killed command is still listed');
        await sleep(100);
    }
});

test('stdin: send input, close it', async () => {
    const handle = await sandbox.commands.run('tr a-z A-Z', { ...SLOW, background: true, stdin: true });
    await sandbox.commands.sendStdin(handle.pid, 'hello ');
    await sandbox.commands.sendStdin(handle.pid, 'stdin\n');
    await sandbox.commands.closeStdin(handle.pid);
    const r = await handle.wait();
    assert.equal(r.stdout, 'HELLO STDIN\n');
});

// Waits until @get() matches @re, the output so far in the message.
async function waitFor(get, re) {
    for (let i = 0; !re.test(get()); i++) {
        assert.ok(i < 600, `no ${re} in ${JSON.stringify(get())}`);
        await sleep(100);
    }
}

test('a terminal: typed input echoed, stty size before and after a resize, kill', async () => {
    let out = '';
    const decoder = new TextDecoder();
    const term = await sandbox.pty.create({
        ...SLOW,
        cols: 80,
        rows: 24,
        onData: (data) => { out += decoder.decode(data, { stream: true }); },
    });
    assert.ok(term.pid > 0);
    const type = (text) => sandbox.pty.sendInput(term.pid, new TextEncoder().encode(text));
    // The terminal echoes what is typed, and the shell on it runs it.
    await type('echo typed-$((6*7))\n');
    await waitFor(() => out, /echo typed-\$\(\(6\*7\)\)/);
    await waitFor(() => out, /typed-42/);
    await type('tty; stty size\n');
    await waitFor(() => out, /\/dev\/pts\/\d+\s+24 80/);
    await sandbox.pty.resize(term.pid, { cols: 132, rows: 43 });
    await type('stty size\n');
    await waitFor(() => out, /43 132/);
    // Listed like any process, with the shell the SDK asked for.
    const mine = (await sandbox.commands.list()).find((p) => p.pid === term.pid);
    assert.equal(mine?.cmd, '/bin/bash');

    assert.equal(await sandbox.pty.kill(term.pid), true);
    await assert.rejects(term.wait(), (err) => {
        assert.ok(err instanceof CommandExitError, `${err}`);
        assert.notEqual(err.exitCode, 0);
        return true;
    });
    // Gone: input, a resize and a kill find nothing.
    await assert.rejects(type('echo late\n'), (err) => err instanceof NotFoundError);
    await assert.rejects(sandbox.pty.resize(term.pid, { cols: 80, rows: 24 }),
                         (err) => err instanceof NotFoundError);
    assert.equal(await sandbox.pty.kill(term.pid), false);
});

test('a terminal ends with its command, with its exit code', async () => {
    const term = await sandbox.pty.create({ ...SLOW, cols: 80, rows: 24, onData: () => {} });
    await sandbox.pty.sendInput(term.pid, new TextEncoder().encode('exit 7\n'));
    await assert.rejects(term.wait(), (err) => err instanceof CommandExitError && err.exitCode === 7);
    await assert.rejects(sandbox.pty.sendInput(term.pid, new Uint8Array([65])),
                         (err) => err instanceof NotFoundError);
});

test('hostile terminal requests: sizes 0 or huge, input of the wrong kind', async () => {
    for (const size of [{ cols: 0, rows: 24 }, { cols: 80, rows: 0 }, { cols: 65536, rows: 24 },
                        { cols: 80, rows: 4294967295 }]) {
        await assert.rejects(sandbox.pty.create({ ...SLOW, ...size, onData: () => {} }),
                             (err) => err instanceof InvalidArgumentError, JSON.stringify(size));
    }
    const term = await sandbox.pty.create({ ...SLOW, cols: 80, rows: 24, onData: () => {} });
    for (const size of [{ cols: 0, rows: 0 }, { cols: 100000, rows: 30 }]) {
        await assert.rejects(sandbox.pty.resize(term.pid, size),
                             (err) => err instanceof InvalidArgumentError, JSON.stringify(size));
    }
    const headers = {
        'X-Access-Token': token,
        'E2b-Sandbox-Id': sandbox.sandboxId,
        'Content-Type': 'application/json',
    };
    const call = async (method, body) => {
        const res = await fetch(`${base}/e2b/process.Process/${method}`, {
            method: 'POST', headers, body: JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
    };
    // A terminal takes input.pty, not input.stdin; sizes must be numbers.
    let r = await call('SendInput', { process: { pid: term.pid }, input: { stdin: 'aGk=' } });
    assert.equal(r.body.code, 'invalid_argument');
    r = await call('Update', { process: { pid: term.pid }, pty: { size: { cols: '80', rows: 24 } } });
    assert.equal(r.body.code, 'invalid_argument');
    r = await call('Update', { process: { pid: term.pid }, pty: {} });
    assert.equal(r.body.code, 'invalid_argument');
    // A command without a terminal has no size to change.
    const plain = await sandbox.commands.run('sleep 600', { ...SLOW, background: true });
    r = await call('Update', { process: { pid: plain.pid }, pty: { size: { cols: 80, rows: 24 } } });
    assert.equal(r.body.code, 'failed_precondition');
    r = await call('SendInput', { process: { pid: plain.pid }, input: { pty: 'aGk=' } });
    assert.equal(r.body.code, 'invalid_argument');
    assert.equal(await plain.kill(), true);
    assert.equal(await sandbox.pty.kill(term.pid), true);
    // Nothing was left running.
    for (let i = 0; (await sandbox.commands.list()).length > 0; i++) {
        assert.ok(i < 600, 'a process is still listed');
        await sleep(100);
    }
});

test('a command as another user: the box says who; an unknown user is refused', async () => {
    const r = await sandbox.commands.run('id -un; id -u', { ...SLOW, user: 'nobody' });
    assert.equal(r.stdout, 'nobody\n65534\n');
    assert.equal((await sandbox.commands.run('id -un', { ...SLOW, user: 'root' })).stdout, 'root\n');
    let out = '';
    const term = await sandbox.pty.create({
        ...SLOW, cols: 80, rows: 24, user: 'nobody',
        onData: (data) => { out += new TextDecoder().decode(data); },
    });
    await sandbox.pty.sendInput(term.pid, new TextEncoder().encode('echo me=$(id -un)\n'));
    await waitFor(() => out, /me=nobody/);
    assert.equal(await sandbox.pty.kill(term.pid), true);
    await assert.rejects(sandbox.commands.run('true', { ...SLOW, user: 'no-such-user' }),
                         (err) => err instanceof InvalidArgumentError, 'unknown user');
    await assert.rejects(sandbox.commands.run('true', { ...SLOW, user: 'bad name' }),
                         (err) => err instanceof InvalidArgumentError, 'malformed user');
    // Files are root's: asked for as root they work, for another user they
    // are refused rather than written as root.
    await sandbox.files.write('/tmp/e2b-root.txt', 'r', { ...SLOW, user: 'root' });
    assert.equal(await sandbox.files.read('/tmp/e2b-root.txt', { ...SLOW, user: 'root' }), 'r');
    await assert.rejects(sandbox.files.write('/tmp/e2b-nobody.txt', 'n', { ...SLOW, user: 'nobody' }),
                         /root/);
    await assert.rejects(sandbox.files.read('/tmp/e2b-root.txt', { ...SLOW, user: 'nobody' }), /root/);
    await assert.rejects(sandbox.files.list('/tmp', { ...SLOW, user: 'nobody' }), /unimplemented/);
    assert.equal(await sandbox.files.exists('/tmp/e2b-nobody.txt', SLOW), false);
});

test('large output comes through whole', async () => {
    const r = await sandbox.commands.run('seq 1 300000', SLOW);
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 300001);
    assert.equal(lines[299999], '300000');
});

test('write, read, list, move and remove files', async () => {
    const info = await sandbox.files.write('/tmp/e2b/dir/hello.txt', 'hello, box\n', SLOW);
    assert.equal(info.path, '/tmp/e2b/dir/hello.txt');
    assert.equal(await sandbox.files.read('/tmp/e2b/dir/hello.txt', SLOW), 'hello, box\n');
    const bytes = await sandbox.files.read('/tmp/e2b/dir/hello.txt', { ...SLOW, format: 'bytes' });
    assert.equal(Buffer.from(bytes).toString(), 'hello, box\n');
    // The file is really in the box.
    assert.equal((await sandbox.commands.run('cat /tmp/e2b/dir/hello.txt', SLOW)).stdout,
                 'hello, box\n');

    // A raw upload (envd 0.5.7's form) and several files in one request.
    let res = await fetch(`${base}/e2b/files?path=/tmp/e2b/raw.bin`, {
        method: 'POST',
        headers: { 'X-Access-Token': token, 'E2b-Sandbox-Id': sandbox.sandboxId,
                   'Content-Type': 'application/octet-stream' },
        body: Buffer.from([0, 1, 2, 255]),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await sandbox.files.read('/tmp/e2b/raw.bin',
                                                          { ...SLOW, format: 'bytes' })),
                     Buffer.from([0, 1, 2, 255]));
    const many = await sandbox.files.write([
        { path: '/tmp/e2b/many/a.txt', data: 'A' },
        { path: '/tmp/e2b/many/b.txt', data: 'B' },
    ], SLOW);
    assert.deepEqual(many.map((f) => f.path).sort(), ['/tmp/e2b/many/a.txt', '/tmp/e2b/many/b.txt']);
    assert.equal((await sandbox.commands.run('cat /tmp/e2b/many/a.txt /tmp/e2b/many/b.txt', SLOW)).stdout,
                 'AB');

    assert.equal(await sandbox.files.makeDir('/tmp/e2b/dir/sub', SLOW), true);
    assert.equal(await sandbox.files.makeDir('/tmp/e2b/dir/sub', SLOW), false);
    const entries = await sandbox.files.list('/tmp/e2b/dir', SLOW);
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['hello.txt', 'sub']);
    assert.equal(byName['hello.txt'].type, 'file');
    assert.equal(byName['hello.txt'].size, 11);
    assert.equal(byName['hello.txt'].path, '/tmp/e2b/dir/hello.txt');
    assert.equal(byName.sub.type, 'dir');

    const stat = await sandbox.files.getInfo('/tmp/e2b/dir/hello.txt', SLOW);
    assert.equal(stat.size, 11);
    assert.equal(await sandbox.files.exists('/tmp/e2b/nothing-here', SLOW), false);

    await sandbox.files.rename('/tmp/e2b/dir/hello.txt', '/tmp/e2b/dir/sub/moved.txt', SLOW);
    assert.equal(await sandbox.files.read('/tmp/e2b/dir/sub/moved.txt', SLOW), 'hello, box\n');
    await sandbox.files.remove('/tmp/e2b/dir', SLOW);
    assert.equal(await sandbox.files.exists('/tmp/e2b/dir', SLOW), false);
    await assert.rejects(sandbox.files.read('/tmp/e2b/dir/sub/moved.txt', SLOW));
});

test('list sandboxes, connect, set a timeout', async () => {
    const items = await Sandbox.list().nextItems();
    assert.deepEqual(items.map((s) => s.sandboxId), [sandbox.sandboxId]);
    assert.equal(items[0].state, 'running');
    assert.deepEqual(items[0].metadata, { purpose: 'e2b test' });
    const matching = await Sandbox.list({ query: { metadata: { purpose: 'e2b test' } } }).nextItems();
    assert.deepEqual(matching.map((s) => s.sandboxId), [sandbox.sandboxId]);
    assert.deepEqual(await Sandbox.list({ query: { metadata: { purpose: 'other' } } }).nextItems(), []);

    const again = await Sandbox.connect(sandbox.sandboxId, SLOW);
    assert.equal((await again.commands.run('echo again', SLOW)).stdout, 'again\n');

    const before = (await Sandbox.getInfo(sandbox.sandboxId)).endAt;
    await sandbox.setTimeout(3_600_000);
    const later = (await Sandbox.getInfo(sandbox.sandboxId)).endAt;
    assert.ok(later > before, `${later} > ${before}`);
});

test('hostile requests get Connect errors, never a crash', async () => {
    const headers = {
        'X-Access-Token': token,
        'E2b-Sandbox-Id': sandbox.sandboxId,
        'Content-Type': 'application/json',
    };
    // Malformed JSON.
    let res = await fetch(`${base}/e2b/filesystem.Filesystem/Stat`, {
        method: 'POST', headers, body: '{"path":',
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 'invalid_argument');
    // A mistyped member.
    res = await fetch(`${base}/e2b/filesystem.Filesystem/ListDir`, {
        method: 'POST', headers, body: '{"path":"/","depth":"deep"}',
    });
    assert.equal((await res.json()).code, 'invalid_argument');
    // An envelope that claims more than it has, and one too large.
    for (const prefix of [[0, 0, 0, 0, 50], [0, 0x7f, 0xff, 0xff, 0xff], [1, 0, 0, 0, 2]]) {
        res = await fetch(`${base}/e2b/process.Process/Start`, {
            method: 'POST',
            headers: { ...headers, 'Content-Type': 'application/connect+json' },
            body: Buffer.concat([Buffer.from(prefix), Buffer.from('{}')]),
        });
        assert.equal(res.status, 200);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(body[0], 2, 'an end-of-stream message');
        const end = JSON.parse(body.subarray(5).toString());
        assert.equal(end.error.code, 'invalid_argument');
    }
    // A sandbox that does not exist, no key, a wrong key.
    res = await fetch(`${base}/e2b/filesystem.Filesystem/Stat`, {
        method: 'POST', headers: { ...headers, 'E2b-Sandbox-Id': 'nope' }, body: '{"path":"/"}',
    });
    assert.equal((await res.json()).code, 'unavailable');
    res = await fetch(`${base}/e2b/v2/sandboxes`);
    assert.equal(res.status, 401);
    res = await fetch(`${base}/e2b/v2/sandboxes`, { headers: { 'X-API-Key': 'wrong' } });
    assert.equal(res.status, 401);
    // The control plane: a malformed body, a timeout out of range, a
    // mistyped template; nothing is made.
    const key = { 'X-API-Key': token, 'Content-Type': 'application/json' };
    for (const body of ['{"templateID":', '{"timeout":-1}', '{"timeout":99999999}',
                        '{"templateID":7}', '{"envVars":[1]}', '[]']) {
        res = await fetch(`${base}/e2b/v2/sandboxes`, { method: 'POST', headers: key, body });
        assert.equal(res.status, 400, body);
    }
    res = await fetch(`${base}/e2b/sandboxes/nope/timeout`, {
        method: 'POST', headers: key, body: '{"timeout":10}',
    });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, 404);
    assert.equal(boxDirs().length, 1);
    // Calls not implemented say so.
    res = await fetch(`${base}/e2b/filesystem.Filesystem/CreateWatcher`, {
        method: 'POST', headers, body: '{"path":"/"}',
    });
    assert.equal((await res.json()).code, 'unimplemented');
    // A chunked body past the bound is cut off with 413 (or the connection
    // closed under the sender), and nothing else happens.
    const big = new ReadableStream({
        start(controller) {
            for (let i = 0; i < 64; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(32));
            controller.close();
        },
    });
    const cut = await fetch(`${base}/e2b/filesystem.Filesystem/Stat`, {
        method: 'POST', headers, body: big, duplex: 'half',
    }).then((r) => r.status, () => 'closed');
    assert.ok(cut === 413 || cut === 'closed', `${cut}`);
    // The server still answers.
    assert.equal((await sandbox.commands.run('echo alive', SLOW)).stdout, 'alive\n');
});

test('a sandbox is removed when its timeout expires', async () => {
    await sandbox.setTimeout(2_000);
    for (let i = 0; ; i++) {
        const items = await Sandbox.list().nextItems();
        if (items.length === 0 && boxDirs().length === 0) break;
        assert.ok(i < 600, 'the sandbox outlived its timeout');
        await sleep(200);
    }
    await assert.rejects(Sandbox.getInfo(sandbox.sandboxId));
    sandbox = undefined;
});

test('list pages and filters, kill a sandbox', async () => {
    const [doomed, kept] = await Promise.all([
        Sandbox.create({ ...SLOW, metadata: { role: 'doomed' } }),
        Sandbox.create({ ...SLOW, metadata: { role: 'kept' } }),
    ]);
    const both = [doomed.sandboxId, kept.sandboxId].sort();

    // One per page: two pages, newest first, then no token.
    const pager = Sandbox.list({ limit: 1 });
    const pages = [];
    while (pager.hasNext) {
        assert.ok(pages.length < 3, 'the pages do not end');
        pages.push(await pager.nextItems());
    }
    assert.deepEqual(pages.map((page) => page.length), [1, 1]);
    assert.deepEqual(pages.flat().map((s) => s.sandboxId).sort(), both);
    assert.ok(pages[0][0].startedAt >= pages[1][0].startedAt);
    // Oldest first on request.
    const oldest = await Sandbox.list({ limit: 1, order: 'asc' }).nextItems();
    assert.equal(oldest[0].sandboxId, pages[1][0].sandboxId);
    // A page as big as the list has no next token.
    const whole = Sandbox.list({ limit: 2 });
    assert.equal((await whole.nextItems()).length, 2);
    assert.equal(whole.hasNext, false);

    // By state: both run, none is paused.
    const running = await Sandbox.list({ query: { state: ['running'] } }).nextItems();
    assert.deepEqual(running.map((s) => s.sandboxId).sort(), both);
    assert.deepEqual(await Sandbox.list({ query: { state: ['paused'] } }).nextItems(), []);
    const either = await Sandbox.list({ query: { state: ['running', 'paused'] } }).nextItems();
    assert.equal(either.length, 2);
    // By metadata and state together, by template, by start.
    const kept1 = await Sandbox.list({ query: { state: ['running'], metadata: { role: 'kept' } } })
        .nextItems();
    assert.deepEqual(kept1.map((s) => s.sandboxId), [kept.sandboxId]);
    assert.equal((await Sandbox.list({ query: { template: 'base' } }).nextItems()).length, 2);
    assert.deepEqual(await Sandbox.list({ query: { template: 'other' } }).nextItems(), []);
    assert.deepEqual(await Sandbox.list({ query: { startedAfter: new Date(Date.now() + 60_000) } })
        .nextItems(), []);

    // Hostile queries: 400 with E2B's JSON error, never a list.
    const key = { 'X-API-Key': token };
    const first = await fetch(`${base}/e2b/v2/sandboxes?limit=1`, { headers: key });
    const next = first.headers.get('x-next-token');
    assert.ok(next, 'a next token');
    assert.equal((await first.json()).length, 1);
    for (const query of ['limit=0', 'limit=101', 'limit=-1', 'limit=1x', 'limit=',
                         'nextToken=garbage', 'nextToken=', `nextToken=0${next}`,
                         `nextToken=${next}x%20`, `nextToken=${'1'.repeat(30)}.a`,
                         `nextToken=1.${'a'.repeat(200)}`, 'state=dead', 'state=running,',
                         'order=sideways', 'startedAfter=yesterday', 'state=running&state=dead',
                         `state=${'running,'.repeat(20)}running`]) {
        const res = await fetch(`${base}/e2b/v2/sandboxes?${query}`, { headers: key });
        assert.equal(res.status, 400, query);
        const body = await res.json();
        assert.equal(body.code, 400, query);
        assert.match(body.message, /\S/, query);
    }
    // A state given again, as other clients send a list.
    const repeated = await fetch(`${base}/e2b/v2/sandboxes?state=paused&state=running`, { headers: key });
    assert.deepEqual((await repeated.json()).map((s) => s.sandboxID).sort(), both);
    const onlyPaused = await fetch(`${base}/e2b/v2/sandboxes?state=paused&state=paused`, { headers: key });
    assert.deepEqual(await onlyPaused.json(), []);
    // The raw token leads to the same second page as the SDK's.
    const second = await fetch(`${base}/e2b/v2/sandboxes?limit=1&nextToken=${encodeURIComponent(next)}`,
                               { headers: key });
    assert.equal(second.status, 200);
    assert.deepEqual((await second.json()).map((s) => s.sandboxID), [pages[1][0].sandboxId]);
    assert.equal(second.headers.get('x-next-token'), null);

    assert.equal(await Sandbox.kill(doomed.sandboxId), true);
    assert.deepEqual((await Sandbox.list().nextItems()).map((s) => s.sandboxId), [kept.sandboxId]);
    assert.equal(boxDirs().length, 1);
    assert.equal(await Sandbox.kill(doomed.sandboxId), false);
    // `kept` and a command running in it are left to the server's stop,
    // which removes them (checked after all tests).
    await kept.commands.run('sleep 600', { ...SLOW, background: true });
});
