import type { TxContext } from './context';
import { ComputePlanService } from './computeplan';
import { ComputeTaskService } from './computetask';
import { DataManagerService } from './datamanager';
import { DataSampleService } from './datasample';
import { DatasetService } from './dataset';
import { FailureReportService } from './failurereport';
import { FunctionService } from './function';
import { InfoService } from './info';
import { ModelService } from './model';
import { OrganizationService } from './organization';
import { PerformanceService } from './performance';
import { ProfilingService } from './profiling';

/**
 * One instance per transaction: gives every service the same context and lets services call each other
 * (a task registration reads plans, functions, data managers and models). Services are created on first use.
 */
export class Services {
    readonly ctx: TxContext;
    readonly #instances = new Map<unknown, unknown>();

    constructor(ctx: TxContext) {
        this.ctx = ctx;
    }

    #get<T>(type: new (ctx: TxContext, services: Services) => T): T {
        let instance = this.#instances.get(type) as T | undefined;
        if (instance === undefined) {
            instance = new type(this.ctx, this);
            this.#instances.set(type, instance);
        }
        return instance;
    }

    get organizations(): OrganizationService {
        return this.#get(OrganizationService);
    }
    get functions(): FunctionService {
        return this.#get(FunctionService);
    }
    get dataManagers(): DataManagerService {
        return this.#get(DataManagerService);
    }
    get dataSamples(): DataSampleService {
        return this.#get(DataSampleService);
    }
    get datasets(): DatasetService {
        return this.#get(DatasetService);
    }
    get computePlans(): ComputePlanService {
        return this.#get(ComputePlanService);
    }
    get computeTasks(): ComputeTaskService {
        return this.#get(ComputeTaskService);
    }
    get models(): ModelService {
        return this.#get(ModelService);
    }
    get performances(): PerformanceService {
        return this.#get(PerformanceService);
    }
    get failureReports(): FailureReportService {
        return this.#get(FailureReportService);
    }
    get profiling(): ProfilingService {
        return this.#get(ProfilingService);
    }
    get info(): InfoService {
        return this.#get(InfoService);
    }
}
