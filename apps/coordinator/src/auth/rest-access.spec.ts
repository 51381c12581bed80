import 'reflect-metadata';
import { Controller, Get, HttpException, type ExecutionContext } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ClientsController } from '../api/clients.controller';
import { ModelsController } from '../api/models.controller';
import { RoundsController } from '../api/rounds.controller';
import { COORDINATOR_DEFAULTS } from '../config/coordinator-config';
import { HealthController } from '../health/health.controller';
import type { CoordinatorDatabase } from '../persistence/coordinator-database';
import { REST_ACCESS, type RestAccess } from './rest-access.decorators';
import { RestAuthGuard } from './rest-auth.guard';

const CONTROLLERS = [HealthController, RoundsController, ModelsController, ClientsController];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD'];

/** Every REST route of the coordinator with the access rule it declares (handler's, else its controller's). */
function routes(): Record<string, RestAccess | undefined> {
  const reflector = new Reflector();
  const table: Record<string, RestAccess | undefined> = {};
  for (const controller of CONTROLLERS) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller));
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as unknown as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const path = String(Reflect.getMetadata(PATH_METADATA, handler));
      const route = `${METHODS[Reflect.getMetadata(METHOD_METADATA, handler) as number]} /${base}${path === '/' ? '' : `/${path}`}`;
      table[route] = reflector.getAllAndOverride<RestAccess | undefined>(REST_ACCESS, [handler, controller]);
    }
  }
  return table;
}

describe('REST access rules', () => {
  it('gives every coordinator route a decision: health public, reads need a read token, students also signed clients, rounds run by admins', () => {
    const read = { kind: 'read', signedClients: false };
    const student = { kind: 'read', signedClients: true };
    expect(routes()).toEqual({
      'GET /health': { kind: 'public' },
      'GET /rounds': read,
      'GET /rounds/:id': read,
      'POST /rounds': { kind: 'admin' },
      'GET /models': student,
      'GET /models/:version': student,
      'GET /models/:version/:file': student,
      'GET /clients': read,
    });
  });

  it('refuses a route that declares no rule (deny by default), even with --public-read', async () => {
    @Controller('undeclared')
    class UndeclaredController {
      @Get()
      secret() {
        return 'secret';
      }
    }
    const guard = new RestAuthGuard(new Reflector(), { ...COORDINATOR_DEFAULTS, publicRead: true }, {} as CoordinatorDatabase, { publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) });
    const context = {
      getType: () => 'http',
      getHandler: () => UndeclaredController.prototype.secret,
      getClass: () => UndeclaredController,
    } as unknown as ExecutionContext;
    let refusal: unknown;
    try {
      await guard.canActivate(context);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(HttpException);
    expect((refusal as HttpException).getStatus()).toBe(403);
    expect((refusal as HttpException).getResponse()).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('UndeclaredController.secret declares no access rule') });
  });
});
