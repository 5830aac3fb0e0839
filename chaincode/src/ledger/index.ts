export type { LedgerStub, StubIterator, StubKV, StubPagedResponse } from './stub';
export { StubStore } from './store';
export { openTransaction, runTransaction, txTimestamp } from './transaction';
export type { Transaction } from './transaction';
