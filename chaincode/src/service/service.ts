import type { TxContext } from './context';
import type { Services } from './provider';

/** What every service is built with: the transaction's context and the other services of that transaction. */
export abstract class Service {
    constructor(
        protected readonly ctx: TxContext,
        protected readonly services: Services,
    ) {}
}
