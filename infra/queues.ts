/** The SQS queues of infra/resources.json: the events queue and its dead-letter queue. */
import { arn, physicalName, queueId, type Stack, type Template } from './settings';

export function queues(stack: Stack): Template {
  const resources: Template = {};
  for (const [name, queue] of Object.entries(stack.definitions.queues)) {
    resources[queueId(name)] = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: physicalName(stack, name),
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        MessageRetentionPeriod: queue.messageRetentionSeconds,
        ReceiveMessageWaitTimeSeconds: queue.receiveWaitTimeSeconds,
        MaximumMessageSize: queue.maximumMessageSizeBytes,
        SqsManagedSseEnabled: true,
        ...(queue.deadLetter
          ? {
              RedrivePolicy: {
                deadLetterTargetArn: arn(queueId(queue.deadLetter)),
                maxReceiveCount: stack.settings.maxReceiveCount,
              },
            }
          : {}),
      },
    };
  }
  return resources;
}
