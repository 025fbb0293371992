/// The script `keyhole run` and `keyhole env` preload into Node (`NODE_OPTIONS=--require`): on versions that do
/// not honour `NODE_USE_ENV_PROXY=1` themselves (before 24.5 and 22.21) it sends `fetch()` and the default
/// `https`/`http` agents through the session's proxy. Written to the data directory (it holds no secret: the proxy
/// URL is read from the environment at run time).
enum NodeProxyPreload {
    static let source = #"""
'use strict';
// keyhole: sends fetch() and the http/https modules' default agents through HTTPS_PROXY/HTTP_PROXY (with their
// user:password as Basic proxy auth) on Node versions that do not honour NODE_USE_ENV_PROXY=1 themselves.
// Loaded with NODE_OPTIONS=--require by `keyhole run` and `keyhole env`. It holds no secret and never throws.
(() => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    // Node 24.5+ and 22.21+ proxy fetch() and the http/https agents themselves under NODE_USE_ENV_PROXY=1.
    const native = process.env.NODE_USE_ENV_PROXY === '1' && (major > 24 || (major === 24 && minor >= 5) ||
        (major === 22 && minor >= 21));
    if (native || globalThis[Symbol.for('keyhole.proxy')]) return;
    let proxyURL;
    try {
        const raw = process.env.HTTPS_PROXY || process.env.https_proxy || process.env.HTTP_PROXY ||
            process.env.http_proxy;
        if (!raw) return;
        proxyURL = new URL(raw);
        if (proxyURL.protocol !== 'http:') return;
    } catch {
        return;
    }
    globalThis[Symbol.for('keyhole.proxy')] = true;
    const net = require('net');
    const tls = require('tls');
    const http = require('http');
    const https = require('https');
    const proxyHost = proxyURL.hostname.replace(/^\[|\]$/g, '');
    const proxyPort = Number(proxyURL.port) || 80;
    const proxyOrigin = `http://${proxyURL.host}`;
    const authorization = proxyURL.username
        ? 'Basic ' + Buffer.from(decodeURIComponent(proxyURL.username) + ':' +
            decodeURIComponent(proxyURL.password)).toString('base64')
        : null;
    const noProxy = (process.env.NO_PROXY || process.env.no_proxy || '').split(/[\s,]+/).filter(Boolean)
        .map((entry) => entry.toLowerCase());

    function bypass(hostname, port) {
        const host = String(hostname).toLowerCase().replace(/^\[|\]$/g, '');
        return noProxy.some((entry) => {
            if (entry === '*') return true;
            let [name, entryPort] = entry.startsWith('[') ? [entry.slice(1, entry.indexOf(']')),
                entry.slice(entry.indexOf(']') + 2)] : entry.split(':');
            if (entryPort && Number(entryPort) !== Number(port)) return false;
            name = name.replace(/^\*?\./, '');
            return host === name || host.endsWith('.' + name);
        });
    }

    function authority(hostname, port) {
        const host = String(hostname).replace(/^\[|\]$/g, '');
        return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    }

    // Opens a CONNECT tunnel to host:port through the proxy; calls back with the raw socket.
    function tunnel(hostname, port, callback) {
        const target = authority(hostname, port);
        const socket = net.connect(proxyPort, proxyHost);
        let buffered = Buffer.alloc(0);
        let finished = false;
        const finish = (error) => {
            if (finished) return;
            finished = true;
            socket.removeListener('data', onData);
            socket.removeListener('error', finish);
            socket.removeListener('close', onClose);
            if (error) {
                socket.destroy();
                callback(error);
            } else {
                socket.pause();
                callback(null, socket);
            }
        };
        const onClose = () => finish(new Error(`keyhole proxy closed the connection to ${target}`));
        const onData = (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            const end = buffered.indexOf('\r\n\r\n');
            if (end < 0) {
                if (buffered.length > 16384) finish(new Error('keyhole proxy sent an oversized response'));
                return;
            }
            const status = Number(buffered.toString('latin1', 0, end).split(' ')[1]);
            if (status !== 200) {
                finish(new Error(`keyhole proxy answered ${status} to CONNECT ${target}`));
                return;
            }
            const rest = buffered.subarray(end + 4);
            if (rest.length) socket.unshift(rest);
            finish(null);
        };
        socket.on('error', finish);
        socket.on('close', onClose);
        socket.on('data', onData);
        socket.once('connect', () => {
            let head = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n`;
            if (authorization) head += `Proxy-Authorization: ${authorization}\r\n`;
            socket.write(head + '\r\n');
        });
        return socket;
    }

    // TLS over a tunnel; calls back once the handshake is done.
    function secureTunnel(options, callback) {
        const hostname = options.hostname || options.host;
        const port = Number(options.port) || 443;
        tunnel(hostname, port, (error, socket) => {
            if (error) return callback(error);
            const servername = options.servername || (net.isIP(hostname) ? undefined : hostname);
            const secure = tls.connect({ ...options, host: hostname, port, socket, servername });
            const onError = (tlsError) => callback(tlsError);
            secure.once('error', onError);
            secure.once('secureConnect', () => {
                secure.removeListener('error', onError);
                callback(null, secure);
            });
        });
    }

    // https: the global agent's connections are tunnelled (the agent pools them per origin as usual).
    class TunnelAgent extends https.Agent {
        createConnection(options, callback) {
            const hostname = options.hostname || options.host;
            const port = Number(options.port) || 443;
            if (bypass(hostname, port)) return super.createConnection(options, callback);
            secureTunnel({ ...options, ALPNProtocols: ['http/1.1'] }, (error, socket) => callback(error, socket));
            return undefined;
        }
    }

    // http: requests go to the proxy in absolute form.
    class ForwardAgent extends http.Agent {
        addRequest(request, options) {
            const hostname = options.hostname || options.host || 'localhost';
            const port = Number(options.port) || 80;
            if (!bypass(hostname, port) && !request._header) {
                request.path = `http://${authority(hostname, port)}${request.path}`;
                if (authorization) request.setHeader('Proxy-Authorization', authorization);
                options = { ...options, host: proxyHost, hostname: proxyHost, port: proxyPort };
            }
            return super.addRequest(request, options);
        }
    }

    try {
        https.globalAgent = new TunnelAgent({ ...https.globalAgent.options });
        http.globalAgent = new ForwardAgent({ ...http.globalAgent.options });
    } catch {}

    // fetch(): Node's bundled undici takes its dispatcher from a global symbol (shared with the undici package),
    // which it sets when it loads, on the first fetch(). The first call installs a proxying dispatcher there.
    try {
        const nativeFetch = process.env.NODE_USE_ENV_PROXY === '1' && (major >= 24 || (major === 22 && minor >= 21));
        const originalFetch = globalThis.fetch;
        if (typeof originalFetch !== 'function' || nativeFetch) return;
        let installed = false;
        const fetch = function fetch(input, init) {
            if (!installed) {
                installed = true;
                installDispatcher(originalFetch);
            }
            return originalFetch.call(this, input, init);
        };
        globalThis.fetch = fetch;
    } catch {}

    function installDispatcher(originalFetch) {
        try {
            const symbol = Symbol.for('undici.globalDispatcher.1');
            if (globalThis[symbol] === undefined) originalFetch('data:,').catch(() => {});
            const Agent = globalThis[symbol] && globalThis[symbol].constructor;
            if (typeof Agent !== 'function') return;
            class ProxyDispatcher extends Agent {
                // Plain http goes to the proxy in absolute form; https is tunnelled by `connect` below.
                dispatch(options, handler) {
                    const origin = new URL(String(options.origin));
                    const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
                    if (origin.protocol === 'http:' && !bypass(origin.hostname, port)) {
                        const extra = [['host', origin.host]];
                        if (authorization) extra.push(['proxy-authorization', authorization]);
                        options = { ...options, origin: proxyOrigin, path: origin.origin + options.path,
                            headers: addHeaders(options.headers, extra) };
                    }
                    return super.dispatch(options, handler);
                }
            }
            globalThis[symbol] = new ProxyDispatcher({ connect: connectThroughProxy });
        } catch {}
    }

    function connectThroughProxy(options, callback) {
        const hostname = options.hostname;
        const secure = options.protocol === 'https:';
        const port = Number(options.port) || (secure ? 443 : 80);
        const servername = options.servername || (net.isIP(hostname) ? undefined : hostname);
        if (secure && !bypass(hostname, port)) {
            secureTunnel({ hostname, port, servername, ALPNProtocols: ['http/1.1'] }, callback);
            return;
        }
        const socket = secure
            ? tls.connect({ host: hostname, port, servername, ALPNProtocols: ['http/1.1'] })
            : net.connect(port, hostname);
        socket.once('error', callback);
        socket.once(secure ? 'secureConnect' : 'connect', () => {
            socket.removeListener('error', callback);
            callback(null, socket);
        });
    }

    function addHeaders(headers, extra) {
        if (headers == null) return Object.fromEntries(extra);
        if (Array.isArray(headers)) {
            if (headers.length && Array.isArray(headers[0])) return headers.concat(extra);
            return headers.concat(extra.flat());
        }
        if (typeof headers[Symbol.iterator] === 'function') return [...headers].concat(extra);
        return { ...headers, ...Object.fromEntries(extra) };
    }
})();
"""#
}
