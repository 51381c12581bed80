export * from './client-core';
export * from './local-teacher';
