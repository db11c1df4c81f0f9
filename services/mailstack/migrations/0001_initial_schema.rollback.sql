DROP TABLE sns_notifications;
DROP TABLE attachments;
DROP TABLE recipients;
DROP TABLE messages;
DROP TABLE inboxes;
DROP TABLE domains;
