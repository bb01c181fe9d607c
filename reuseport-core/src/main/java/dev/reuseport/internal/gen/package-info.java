/**
 * Socket generations of a stateful UDP group: a generation is a set of sockets opened together (by a
 * restart, a resize, or a new process taking over) that serves side by side with older ones until they
 * drain. This package plans which generation number (0..255, wrapping) and which range of the steering
 * program's 256 slots a new generation takes, so that at least four live at once and a number is never
 * reused while its cookies can still arrive. Internal: not exported; it knows slot numbers, not workers
 * or sockets.
 */
package dev.reuseport.internal.gen;
