// rtnetlink and network namespaces for ecdock: links, addresses and routes in any namespace,
// without spawning processes and without ever moving a JS or libuv thread into another
// namespace (see README.md in this folder).

export { Netns } from './netns';
export type { NetnsRef, NetnsProbe } from './netns';
export { createVeth, createVeths } from './veth';
export type { CreateVethOptions, CreateVethsOptions, VethPeerOptions, VethCreated, VethSettled } from './veth';
export { configureInterface } from './configure';
export type { ConfigureOptions, InterfaceConfig } from './configure';
export { getLink, listLinks, setLink, moveLink, deleteLink, deleteLinks, deleteLinkGroup } from './link';
export type { LinkInfo, LinkRef, SetLinkOptions, MoveLinkOptions } from './link';
export { listAddresses } from './addr';
export type { AddrInfo, AddressSpec } from './addr';
export { listRoutes } from './route';
export { setNeighbors } from './neigh';
export type { NeighborSpec } from './neigh';
export type { RouteInfo, RouteSpec } from './route';
export type { NetlinkErrorDetail, Side } from './errors';
export { nativeStats, setNetlinkWorkers } from './addon';
