// Switchboard reference browser client for the native protocol, v1 (docs/protocol.md).
//
// A SwitchboardClient holds one WebSocket to a Switchboard server's /ws endpoint. It claims a peer
// id, waits for the server's `welcome`, hands every relayed message and every error frame to the
// handlers registered with on(), and sends {type, to, payload} frames. It answers nothing on its
// own: no pings, no acknowledgements, no reconnects (the browser answers WebSocket-level pings).
//
//   const client = new SwitchboardClient('ws://127.0.0.1:8080/ws', { peer: 'alice', token: secret });
//   client.on('message', (payload, from) => console.log(from, 'says', payload));
//   client.on('error', (frame) => console.warn(frame.code, frame.message));
//   const { peer, pod } = await client.ready;       // rejects if the server refuses the id
//   client.send('message', 'bob', { text: 'hi' });
//   client.close();
//
// Contract:
//   - ready resolves with the welcome frame ({type: 'welcome', peer, pod}), and client.peer and
//     client.pod are set from it (the server picks the id when none was given). ready rejects with
//     an Error (err.code = the error code, or 'closed') if an error frame (for example `id-taken`)
//     or the end of the connection comes first.
//   - Handlers for 'offer', 'answer', 'candidate', 'bye' and 'message' are called as
//     handler(payload, from, frame), in the order the server delivered the frames. Messages queued
//     for this id while it was away arrive right after welcome: register handlers before awaiting
//     ready (or right after, without awaiting anything else in between).
//   - Handlers for 'error' get the error frame as the server sent it: {type: 'error', code,
//     message, to?, ref?}. Handlers for 'close' get {code, reason}, once.
//   - send() throws unless the socket is open. Frames of a type the client does not know, and
//     frames that are not JSON, are ignored.
//
// wirePeerConnection() below connects an RTCPeerConnection to a client: offer, answer and trickle
// ICE candidates, exchanged with one remote peer.

const RELAYED_TYPES = ['offer', 'answer', 'candidate', 'bye', 'message'];
const EVENTS = [...RELAYED_TYPES, 'error', 'close'];

export class SwitchboardClient {
  // url: the /ws endpoint, e.g. 'ws://host:8080/ws' (or 'wss://...' behind TLS).
  // peer: the id to claim (1 to 64 of A-Z a-z 0-9 _ -); omitted, the server assigns one.
  // token: a secret kept across reconnects, so that a new connection can take the id back.
  constructor(url, { peer, token } = {}) {
    const endpoint = new URL(url);
    if (peer !== undefined) endpoint.searchParams.set('peer', peer);
    if (token !== undefined) endpoint.searchParams.set('token', token);

    this.peer = null; // set from welcome
    this.pod = null;
    this._handlers = new Map(EVENTS.map((name) => [name, new Set()]));
    this._welcomed = false;

    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    // A caller that never awaits ready should not see an "unhandled rejection" for it.
    this.ready.catch(() => {});

    this._ws = new WebSocket(endpoint.href);
    this._ws.onmessage = (event) => this._onFrame(event.data);
    this._ws.onclose = (event) => this._onClose(event.code, event.reason);
  }

  // Registers handler for one of the events above; returns a function that unregisters it.
  on(event, handler) {
    const set = this._handlers.get(event);
    if (!set) throw new Error(`SwitchboardClient: unknown event "${event}"`);
    set.add(handler);
    return () => set.delete(handler);
  }

  // Sends one relayed message. payload may be any JSON value; it is omitted when undefined (the
  // server then relays a `bye` with payload null, and refuses the other types as bad-message).
  send(type, to, payload) {
    if (this._ws.readyState !== WebSocket.OPEN) {
      throw new Error(`SwitchboardClient: cannot send ${type} to ${to}: the connection is not open`);
    }
    this._ws.send(JSON.stringify({ type, to, payload }));
  }

  // Closes the connection (normal closure). The 'close' handlers are called when it is closed.
  close() {
    this._ws.close(1000);
  }

  _emit(event, ...args) {
    for (const handler of [...this._handlers.get(event)]) {
      try {
        handler(...args);
      } catch (err) {
        // One failing handler must not stop the others or the client.
        console.error(`SwitchboardClient: a "${event}" handler threw`, err);
      }
    }
  }

  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object') return;

    if (frame.type === 'welcome') {
      this.peer = frame.peer;
      this.pod = frame.pod;
      this._welcomed = true;
      this._resolveReady(frame);
    } else if (frame.type === 'error') {
      if (!this._welcomed) {
        this._rejectReady(Object.assign(new Error(`${frame.code}: ${frame.message}`), { code: frame.code }));
      }
      this._emit('error', frame);
    } else if (RELAYED_TYPES.includes(frame.type)) {
      this._emit(frame.type, frame.payload, frame.from, frame);
    }
  }

  _onClose(code, reason) {
    if (!this._welcomed) {
      this._rejectReady(
        Object.assign(new Error(`connection closed before welcome (code ${code} ${reason})`), { code: 'closed' }),
      );
    }
    this._emit('close', { code, reason });
  }
}

// Wires pc to client for a connection with the peer `remote`, and returns a function that unwires
// it (the client and pc stay open).
//
//   caller: true on the side that makes the offer (once the client is welcomed). Create its data
//           channels (or add its tracks) before calling, so that the offer carries them. The other
//           side answers the offer when it arrives and gets the channels through pc.ondatachannel;
//           wire it before its client is welcomed if the offer may already be waiting for it.
//   onError: called with any failure of the negotiation (default: console.error).
//
// Local ICE candidates go to `remote` as they are found (trickle); the final null candidate is not
// sent. Remote candidates that arrive before the remote description are held until it is set.
// Messages from peers other than `remote` are left alone, so one client can serve several
// connections. There is no "perfect negotiation": exactly one side must be the caller.
export function wirePeerConnection(client, pc, remote, { caller, onError = console.error } = {}) {
  const heldCandidates = [];
  const fromRemote = (handler) => (payload, from) => {
    if (from === remote) handler(payload).catch(onError);
  };

  const setRemote = async (description) => {
    await pc.setRemoteDescription(description);
    for (const candidate of heldCandidates.splice(0)) await pc.addIceCandidate(candidate);
  };

  const unsubscribe = [
    client.on(
      'offer',
      fromRemote(async (offer) => {
        await setRemote(offer);
        await pc.setLocalDescription(await pc.createAnswer());
        client.send('answer', remote, pc.localDescription.toJSON());
      }),
    ),
    client.on('answer', fromRemote(setRemote)),
    client.on(
      'candidate',
      fromRemote(async (candidate) => {
        if (pc.remoteDescription) await pc.addIceCandidate(candidate);
        else heldCandidates.push(candidate);
      }),
    ),
  ];

  pc.onicecandidate = (event) => {
    if (!event.candidate) return;
    try {
      client.send('candidate', remote, event.candidate.toJSON());
    } catch (err) {
      onError(err); // the client was closed meanwhile
    }
  };

  if (caller) {
    (async () => {
      await client.ready; // nothing can be sent before welcome
      await pc.setLocalDescription(await pc.createOffer());
      client.send('offer', remote, pc.localDescription.toJSON());
    })().catch(onError);
  }

  return () => {
    for (const off of unsubscribe) off();
    pc.onicecandidate = null;
  };
}
