import type { TxContext } from './context';
import type { Services } from './provider';

export class InfoService {
    constructor(
        protected readonly ctx: TxContext,
        protected readonly services: Services,
    ) {}
}
