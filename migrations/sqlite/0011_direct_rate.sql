-- The per-pair direct-message rate (DIRECT_MESSAGES_PER_PAIR_PER_MINUTE) is counted from the
-- database, so every process on this file shares it: a sender's direct messages of the last
-- minute are one range of this index (a direct message is stored as private), each then checked
-- against its recipients by message_recipients' primary key.
CREATE INDEX messages_direct_sender_idx ON messages (sender, created_at) WHERE visibility = 'private';
