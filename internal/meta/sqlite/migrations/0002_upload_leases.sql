-- Upload leases: the process writing an upload session now, and until when
-- (Unix nanoseconds). Another process may take a lease that has expired, so
-- a session whose writer died is usable again after the lease's TTL.
ALTER TABLE uploads ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
