/** The lake's objects as S3 lists them, with the partition each belongs to. */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { lakeCall, type LakeCalls } from './calls';
import { parseObjectKey, type Partition } from './layout';

export interface LakeObject {
  key: string;
  size: number;
  lastModified: Date | undefined;
  partition: Partition;
}

/** Every lake file of the bucket (under `prefix` if given); other objects (Athena results) are left out. */
export async function listLake(s3: S3Client, bucket: string, prefix?: string, calls?: LakeCalls): Promise<LakeObject[]> {
  const objects: LakeObject[] = [];
  let token: string | undefined;
  do {
    const command = new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token });
    const page = await lakeCall('S3', calls, (abortSignal) => s3.send(command, { abortSignal }));
    for (const object of page.Contents ?? []) {
      const partition = object.Key ? parseObjectKey(object.Key) : undefined;
      if (!object.Key || !partition) continue;
      objects.push({ key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified, partition });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}
