CREATE TABLE `invoices` (
	`id` text PRIMARY KEY NOT NULL,
	`amount` real NOT NULL,
	`issued_at` integer NOT NULL
);
