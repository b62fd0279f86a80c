export { peerCredOf, type PeerCred } from '../native.js';
