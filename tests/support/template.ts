/** infra/template.ts's inputs for the tests that generate a template without serverless: the stage's settings and the resource definitions. */
import type { generateTemplate } from '../../infra/template';
import resourcesJson from '../../infra/resources.json';

export type TemplateDefinitions = Parameters<typeof generateTemplate>[0];
export type TemplateSettings = Parameters<typeof generateTemplate>[1];

/** A unit stage's settings (the lake off unless asked for), with `overrides`. */
export const templateSettings = (overrides: Partial<TemplateSettings> = {}): TemplateSettings => ({
  stage: 'unit',
  maxReceiveCount: 5,
  queueAgeAlarmSeconds: 900,
  alarmEmail: '',
  tableDeletionPolicy: 'Retain',
  workerTimeout: 25,
  workerBatchWindow: 1,
  ...overrides,
});

/** A fresh copy of infra/resources.json, for a test to add to. */
export const templateDefinitions = (): TemplateDefinitions => structuredClone(resourcesJson) as TemplateDefinitions;
