export type { LedgerStub, StubHandler, StubIterator, StubKV, StubPagedResponse } from './stub';
export { StubStore } from '../repository/stub-store';
export { openTransaction, runTransaction, txTimestamp } from './transaction';
export type { Transaction, TransactionOptions } from './transaction';
