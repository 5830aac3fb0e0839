import { orchestrator } from '@substra-fabric/api';
import { CHAINCODE_VERSION } from '../version';
import type { TxContext } from './context';
import type { Services } from './provider';

/** Info (behavior-assets §12). */
export class InfoService {
    constructor(
        protected readonly ctx: TxContext,
        protected readonly services: Services,
    ) {}

    /** QueryVersion: the chaincode reports its own version; `orchestrator` is filled by the gateway. */
    queryVersion(): orchestrator.QueryVersionResponse {
        return orchestrator.QueryVersionResponse.create({ chaincode: CHAINCODE_VERSION });
    }
}
