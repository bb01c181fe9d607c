package dev.reuseport.spring; final class Placeholder { }
