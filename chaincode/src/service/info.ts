import { orchestrator } from '@substra-fabric/api';
import { CHAINCODE_VERSION } from '../version';
import { Service } from './service';

/** Info (behavior-assets §12). */
export class InfoService extends Service {
    /** QueryVersion: the chaincode reports its own version; `orchestrator` is filled by the gateway. */
    queryVersion(): orchestrator.QueryVersionResponse {
        return orchestrator.QueryVersionResponse.create({ chaincode: CHAINCODE_VERSION });
    }
}
